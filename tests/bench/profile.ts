// Reads a V8 .cpuprofile and lists where the web server spent its time: self time per package
// (or app folder) and the hottest functions.
import fs from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<pkg>, app/<folder>, node:<module>, or the file name. */
function bucketOf(url: string): string {
  if (!url) return "(native / GC / idle)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return url;
  const app = url.indexOf("/build/server/");
  if (app >= 0) return "app (server build)";
  return url.split("/").slice(-2).join("/");
}

export function summarizeProfile(file: string, top = 12): string[] {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName || "(anonymous)";
    if (name === "(idle)") {
      buckets.set("(idle)", (buckets.get("(idle)") ?? 0) + us);
      continue;
    }
    const bucket = bucketOf(node.callFrame.url);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + us);
    const key = `${name} (${bucket})`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1)}%`;
  const lines = [
    `self time by package: ${[...buckets.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `${k} ${pct(v)}`).join(", ")}`,
  ];
  for (const [k, v] of [...functions.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(v)} ${k}`);
  return lines;
}
