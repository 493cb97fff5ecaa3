// The only module of the project that imports onnxruntime-node: session creation with execution
// provider fallback (CUDA first, then CPU), tensors, and runs.

import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as ort from "onnxruntime-node";
import type { TensorData } from "../onnx/tensor";

export type Provider = "cuda" | "cpu";
export type OrtSession = ort.InferenceSession;
export type OrtTensor = ort.Tensor;
export type Feeds = Record<string, ort.Tensor>;

export interface SessionOptions {
  /** Threads for one operator (ORT's intraOpNumThreads); ORT's default (all cores) when omitted. */
  intraOpThreads?: number;
  /** Providers to try in order; default ["cuda", "cpu"]. */
  providers?: Provider[];
  /**
   * Let onnxruntime's worker threads spin-wait between runs (onnxruntime's default). Off by default
   * here: sampling runs between runs on the same cores, and spinning threads slow it (and the runs,
   * when other processes share the machine) about twofold on 2 cores.
   */
  spinning?: boolean;
  /** Profile every run into a Chrome-trace JSON file with this prefix (read with session.endProfiling()). */
  profilePrefix?: string;
  /** Called with one line saying which provider runs the model (default: console.info). */
  log?: (line: string) => void;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: Provider;
  /** Why earlier providers were skipped, e.g. "cuda: provider library not installed". */
  fallbacks: string[];
}

/** Creates a session from a file path or model bytes, trying each provider in turn. */
export async function createSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<CreatedSession> {
  const providers = opts.providers ?? ["cuda", "cpu"];
  const fallbacks: string[] = [];
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    extra: { session: { intra_op: { allow_spinning: opts.spinning ? "1" : "0" } } },
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
  };
  for (const provider of providers) {
    if (provider === "cuda" && !cudaProviderInstalled()) {
      fallbacks.push("cuda: provider library not installed (onnxruntime-node was installed without CUDA)");
      continue;
    }
    try {
      const options = { ...base, executionProviders: [provider] };
      const session = typeof model === "string" ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      (opts.log ?? console.info)(`onnxruntime: running on ${provider}${fallbacks.length ? ` (${fallbacks.join("; ")})` : ""}`);
      return { session, provider, fallbacks };
    } catch (err) {
      fallbacks.push(`${provider}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(`no execution provider could load the model: ${fallbacks.join("; ")}`);
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

export function int64Tensor(data: BigInt64Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("int64", data, dims);
}

export function boolTensor(data: Uint8Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("bool", data, dims);
}

/** An onnxruntime tensor over a TensorData's buffer (no copy). */
export function toOrtTensor(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.dtype === "float64" ? "float64" : t.dtype, t.data as Float32Array, t.dims);
}

/**
 * Runs a session, fetching only `fetches`; returns the outputs' data and dims. Outputs named in
 * `into` are written into those tensors (their shapes must match) instead of new buffers.
 */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Feeds,
  fetches: readonly string[],
  into?: Feeds,
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const out = into ? await session.run(feeds, Object.fromEntries(fetches.map((name) => [name, into[name] ?? null]))) : await session.run(feeds, fetches);
  const result: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
  for (const name of fetches) {
    const t = out[name] as ort.Tensor;
    if (t.type !== "float32") throw new Error(`output ${name} is ${t.type}, expected float32`);
    const target = into?.[name];
    // The binding hands back its own view of an output written into `into`: read the given buffer.
    result[name] = target ? { data: target.data as Float32Array, dims: target.dims } : { data: t.data as Float32Array, dims: t.dims };
  }
  return result;
}

/** True when a CUDA execution provider library sits next to the onnxruntime-node binding. */
function cudaProviderInstalled(): boolean {
  try {
    const pkgDir = path.dirname(path.dirname(createRequire(import.meta.url).resolve("onnxruntime-node")));
    const binDir = path.join(pkgDir, "bin");
    if (!existsSync(binDir)) return false;
    for (const napi of readdirSync(binDir)) {
      const dir = path.join(binDir, napi, process.platform, process.arch);
      if (existsSync(path.join(dir, "libonnxruntime_providers_cuda.so")) || existsSync(path.join(dir, "onnxruntime_providers_cuda.dll"))) return true;
    }
    return false;
  } catch {
    return false;
  }
}
