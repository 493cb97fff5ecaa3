// Shared fixture data lives beside the project (../shared), on every machine and in CI.
import fs from "node:fs";
import path from "node:path";

export const OASST_FIXTURES = path.resolve(process.env.RLHF_FIXTURES_DIR ?? path.join(process.cwd(), "..", "shared", "fixtures", "oasst"));

if (!fs.existsSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl")))
  throw new Error(`Open-Assistant fixtures not found in ${OASST_FIXTURES}: set RLHF_FIXTURES_DIR`);
