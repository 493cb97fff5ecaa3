// The simulated labeler shared by the labeling and soak benchmarks: a keep-alive JSON client
// and the answer a bench labeler gives to each kind of task.
import crypto from "node:crypto";
import http from "node:http";

export interface Labeler {
  id: string;
  cookie: string;
}

export type TaskView = {
  task: { id: string; type: string };
  siblings: Array<{ id: string }>;
  labels: Array<{ name: string; kind: string; required: boolean }>;
};

export function answerFor(view: TaskView, n: number): unknown {
  const type = view.task.type;
  if (type === "initial_prompt" || type === "assistant_reply" || type === "prompter_reply") {
    return { text: `Bench ${type} ${n} ${crypto.randomBytes(8).toString("hex")}: a reply with a few words in it.` };
  }
  if (type.startsWith("label_")) {
    const labels: Record<string, number> = {};
    for (const l of view.labels) labels[l.name] = l.name === "quality" ? 0.75 : 0;
    return { labels };
  }
  return { order: view.siblings.map((s) => [s.id]) };
}

/** One answer read whole: status and body text (the body is parsed only where it is used). */
export interface Answer {
  status: number;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * POSTs JSON over a keep-alive agent with node:http. The load generator shares the machine with
 * the server it measures: fetch (undici over WHATWG streams) cost it about twice the CPU.
 */
export function postJson(agent: http.Agent, target: string, cookie: string, body: unknown): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      target,
      {
        method: "POST",
        agent,
        headers: { Cookie: cookie, "Content-Type": "application/json", Accept: "application/json", "Content-Length": Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, text: async () => text, json: async () => JSON.parse(text) });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN);
export const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
