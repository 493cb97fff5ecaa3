// Validates a model directory (a policy, or with `reward` a reward model) in its own process and prints the summary as JSON (exit 0), or
// the reason it cannot be used (exit 2). The web server calls this so it never loads onnxruntime.
import { ModelValidationError } from "../errors";
import { validateModelDir, validateRewardModelDir } from "../validate";

const [dir, kind = "policy"] = process.argv.slice(2);
if (!dir || (kind !== "policy" && kind !== "reward")) {
  console.error("usage: validate-model <model directory> [policy|reward]");
  process.exit(64);
}
try {
  const summary = kind === "reward" ? await validateRewardModelDir(dir) : await validateModelDir(dir);
  process.stdout.write(JSON.stringify(summary));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(error instanceof ModelValidationError ? message : `unexpected error: ${message}`);
  process.exit(2);
}
