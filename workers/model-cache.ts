// Loaded models stay in the worker between jobs: loading an ONNX session costs seconds.
import { loadCausalLM, type CausalLM } from "../inference/causal-lm.ts";

const MAX_LOADED = 2;
const loaded = new Map<string, Promise<CausalLM>>();

/** The model at `dir`, loaded once per worker process (least recently used ones are dropped). */
export async function modelAt(dir: string, intraOpThreads: number): Promise<CausalLM> {
  let entry = loaded.get(dir);
  if (entry) {
    loaded.delete(dir);
    loaded.set(dir, entry);
    return entry;
  }
  entry = loadCausalLM(dir, { intraOpThreads, log: (m: string) => console.log(`[inference] ${m}`) });
  loaded.set(dir, entry);
  entry.catch(() => loaded.delete(dir));
  while (loaded.size > MAX_LOADED) {
    const [oldest, model] = loaded.entries().next().value as [string, Promise<CausalLM>];
    loaded.delete(oldest);
    void model.then((m) => m.dispose()).catch(() => undefined);
  }
  return entry;
}

export async function disposeModels(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  await Promise.allSettled(all.map((m) => m.then((x) => x.dispose())));
}
