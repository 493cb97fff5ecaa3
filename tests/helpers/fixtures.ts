// The Open-Assistant sample the tests read, carried in the repository (tests/fixtures/oasst).
import path from "node:path";
import { fileURLToPath } from "node:url";

export const OASST_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/oasst");
