// The job harness and a worker process with the queues in Postgres (BullMQ's PostgreSQL backend).
import { jobSuite } from "./suite.ts";

jobSuite("postgres");
