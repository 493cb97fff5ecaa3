// The external commands file (what a bad entry is told), placeholder filling, the command's
// environment, and the progress-line protocol.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandEnv, expandArgv, loadTrainingCommands } from "~/models/external-commands.server.ts";
import { parseProgressLine } from "../../workers/training/external.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "commands-"));
function load(content: unknown) {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return loadTrainingCommands({ RLHF_STUDIO_TRAINING_COMMANDS: file });
}
const GOOD = { argv: ["python3", "train.py", "--data={export_file}", "{output_dir}"], produces: "policy", exportFormats: ["sft_messages"], timeoutSeconds: 3600 };

describe("training commands file", () => {
  it("is empty when the variable is unset, and fills defaults", () => {
    expect(loadTrainingCommands({}).commands.size).toBe(0);
    const c = load({ commands: { "trl-sft": GOOD } }).commands.get("trl-sft")!;
    expect(c).toMatchObject({ name: "trl-sft", killGraceSeconds: 10, env: {}, passEnv: [], description: "" });
  });

  it("names the file and every bad field", () => {
    const bad = { argv: ["{output_dir}", "{export}"], produces: "value", exportFormats: ["csv"], timeoutSeconds: 0, killGraceSeconds: 5000, env: { "1X": "a" }, cwd: "rel", shell: true };
    let message = "";
    try {
      load({ commands: { "bad name!": GOOD, x: bad } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^RLHF_STUDIO_TRAINING_COMMANDS \(.*\.json\): /);
    for (const part of [
      "commands.bad name!: names are 1–40 letters",
      "commands.x.argv.0: the program itself cannot be a placeholder",
      "commands.x.argv.1: unknown placeholder {export}",
      "commands.x.produces: Invalid enum value",
      "commands.x.exportFormats.0: Invalid enum value",
      "commands.x.timeoutSeconds: Number must be greater than 0",
      "commands.x.killGraceSeconds: Number must be less than or equal to 600",
      "commands.x.env.1X: is not a variable name",
      "commands.x.cwd: must be an absolute path",
      "commands.x: Unrecognized key(s) in object: 'shell'",
    ])
      expect(message).toContain(part);
    expect(() => load("{ not json")).toThrow(/RLHF_STUDIO_TRAINING_COMMANDS \(.*\): .*JSON/);
    expect(() => loadTrainingCommands({ RLHF_STUDIO_TRAINING_COMMANDS: path.join(dir, "missing.json") })).toThrow(/missing\.json\): ENOENT/);
  });

  it("fills placeholders inside arguments and keeps the worker's secrets out of the environment", () => {
    const c = load({ commands: { a: { ...GOOD, env: { HF_HUB_OFFLINE: "1" }, passEnv: ["CUDA_VISIBLE_DEVICES"] } } }).commands.get("a")!;
    const values = Object.fromEntries(
      ["export_dir", "export_file", "validation_file", "manifest_file", "base_model_dir", "output_dir", "checkpoint_dir", "config_file", "run_id"].map((k) => [k, `/x/${k}`]),
    ) as Parameters<typeof expandArgv>[1];
    expect(expandArgv(c, values)).toEqual(["python3", "train.py", "--data=/x/export_file", "/x/output_dir"]);
    const env = commandEnv(c, "run-1", { PATH: "/bin", DATABASE_URL: "postgresql://secret", SESSION_SECRET: "s", CUDA_VISIBLE_DEVICES: "0,1" });
    expect(env).toEqual({ PATH: "/bin", CUDA_VISIBLE_DEVICES: "0,1", HF_HUB_OFFLINE: "1", RLHF_STUDIO_RUN_ID: "run-1" });
  });
});

describe("progress lines", () => {
  it("reads a JSON object with an integer step; other finite numbers are metrics", () => {
    expect(parseProgressLine('{"step": 10, "total": 100, "loss": 0.5, "learning_rate": 1e-5, "epoch": 0.1, "note": "x", "bad": null}')).toEqual({
      step: 10,
      total: 100,
      metrics: { loss: 0.5, learning_rate: 1e-5, epoch: 0.1 },
    });
    expect(parseProgressLine('  {"step": 0}  ')).toEqual({ step: 0, total: null, metrics: {} });
  });

  it("leaves anything else to the log", () => {
    for (const line of ["{'loss': 0.5, 'step': 1}", '{"loss": 1}', '{"step": 1.5}', '{"step": -1}', '[{"step": 1}]', "step 1/10", '{"step": 1', ""])
      expect(parseProgressLine(line), line).toBeNull();
  });
});
