// Validates a model directory in its own process and prints the summary as JSON (exit 0), or
// the reason it cannot be used (exit 2). The web server calls this so it never loads onnxruntime.
import { ModelValidationError } from "../errors";
import { validateModelDir } from "../validate";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: validate-model <model directory>");
  process.exit(64);
}
try {
  const summary = await validateModelDir(dir);
  process.stdout.write(JSON.stringify(summary));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(error instanceof ModelValidationError ? message : `unexpected error: ${message}`);
  process.exit(2);
}
