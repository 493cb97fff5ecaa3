// Loaded models stay in the worker between jobs: loading an ONNX session costs seconds. Jobs of
// several queues run in one worker process, so a model is leased while a job uses it and only
// models nobody holds are dropped when more than MAX_IDLE_LOADED are loaded.
import { loadCausalLM, type CausalLM } from "../inference/causal-lm.ts";

const MAX_IDLE_LOADED = 2;

interface Entry {
  model: Promise<CausalLM>;
  leases: number;
}
/** In least recently leased order. */
const loaded = new Map<string, Entry>();

export interface ModelLease {
  model: CausalLM;
  /** Hands the model back; it stays loaded for the next job unless the cache is over its size. */
  release(): void;
}

/** The model at `dir`, loaded once per worker process and kept from disposal until released. */
export async function leaseModel(dir: string, intraOpThreads: number): Promise<ModelLease> {
  let entry = loaded.get(dir);
  if (entry) loaded.delete(dir);
  else {
    const fresh: Entry = { model: loadCausalLM(dir, { intraOpThreads, log: (m: string) => console.log(`[inference] ${m}`) }), leases: 0 };
    fresh.model.catch(() => loaded.get(dir) === fresh && loaded.delete(dir));
    entry = fresh;
  }
  loaded.set(dir, entry);
  entry.leases++;
  dropIdle();
  let model: CausalLM;
  try {
    model = await entry.model;
  } catch (error) {
    entry.leases--;
    throw error;
  }
  let released = false;
  const held = entry;
  return {
    model,
    release() {
      if (released) return;
      released = true;
      held.leases--;
      dropIdle();
    },
  };
}

/** Directories of the models loaded now, least recently leased first. */
export function loadedModelDirs(): string[] {
  return [...loaded.keys()];
}

function dropIdle(): void {
  for (const [dir, entry] of loaded) {
    if (loaded.size <= MAX_IDLE_LOADED) return;
    if (entry.leases > 0) continue;
    loaded.delete(dir);
    void entry.model.then((m) => m.dispose()).catch(() => undefined);
  }
}

export async function disposeModels(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  await Promise.allSettled(all.map((e) => e.model.then((m) => m.dispose())));
}
