// Loaded before the admin CLI (see package.json): with no DATABASE_URL or REDIS_URL set, the CLI
// works on what the running `npm start` chose, its embedded Postgres included.
import { adoptRunningServices } from "./running-services.ts";

adoptRunningServices();
