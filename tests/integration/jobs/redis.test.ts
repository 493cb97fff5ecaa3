// The job harness and a worker process with the queues in Redis.
import { jobSuite } from "./suite.ts";

jobSuite("redis");
