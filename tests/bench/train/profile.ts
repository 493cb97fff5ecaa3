// Summarises an onnxruntime profile (Chrome trace JSON) of training steps: time per phase — forward,
// backward (nodes under the "grad" scope), optimizer (under "optimizer") — and the hottest op types.

import { readFileSync } from "node:fs";

interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

export interface ProfileSummary {
  runs: number;
  /** Mean per run, ms. */
  run_ms: number;
  forward_ms: number;
  backward_ms: number;
  optimizer_ms: number;
  /** Run time not spent in any node: feeding inputs, fetching outputs, scheduling. */
  outside_nodes_ms: number;
  top_ops: { op: string; ms: number }[];
}

export function summariseProfile(file: string, skipRuns = 2): ProfileSummary {
  const events = JSON.parse(readFileSync(file, "utf8")) as TraceEvent[];
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run");
  // Nodes between the first timed run's start and the end: skip the warm-up runs.
  const kept = runs.slice(skipRuns);
  const start = (kept[0] as TraceEvent & { ts: number }).ts;
  const nodes = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && (e as TraceEvent & { ts: number }).ts >= start);
  const phase = { forward: 0, backward: 0, optimizer: 0 };
  const byOp = new Map<string, number>();
  for (const n of nodes) {
    const name = n.name.replace(/_kernel_time$/, "");
    const key = name.includes("/optimizer/") ? "optimizer" : name.includes("/grad/") ? "backward" : "forward";
    phase[key] += n.dur;
    const op = n.args?.op_name ?? "?";
    byOp.set(op, (byOp.get(op) ?? 0) + n.dur);
  }
  const k = kept.length;
  const ms = (us: number) => Math.round((us / 1000 / k) * 10) / 10;
  const runUs = kept.reduce((a, r) => a + r.dur, 0);
  return {
    runs: k,
    run_ms: ms(runUs),
    forward_ms: ms(phase.forward),
    backward_ms: ms(phase.backward),
    optimizer_ms: ms(phase.optimizer),
    outside_nodes_ms: ms(runUs - phase.forward - phase.backward - phase.optimizer),
    top_ops: [...byOp]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([op, us]) => ({ op, ms: ms(us) })),
  };
}
