// Trainer: runs step graphs with onnxruntime and keeps the model's parameters and AdamW moments
// between steps. Parameters and moments live in JS buffers that onnxruntime reads in place (inputs)
// and writes in place (pre-allocated outputs); each step writes into a second set of buffers, and the
// two are swapped only when the step is accepted, so a refused step (non-finite loss or gradient)
// leaves the previous state untouched.

import { readdirSync } from "node:fs";
import path from "node:path";
import type { Gpt2Config, Gpt2Weights } from "../inference/models/gpt2";
import { checkGpt2Weights } from "../inference/models/gpt2";
import { serializeGraph } from "../inference/onnx/serialize";
import { float32, type TensorData } from "../inference/onnx/tensor";
import { createSession, toOrtTensor, type OrtSession, type OrtTensor, type Provider } from "../inference/runtime/ort";
import type { Batch } from "./batch";
import type { Objective } from "./objectives";
import { learningRate, validateSchedule, type LrSchedule } from "./schedule";
import { adamScalars, buildStepGraph, DEFAULT_ADAMW, FLAT, STEP_SCALARS, type AdamWConfig, type StepGraph, type StepParam } from "./step-graph";

export interface TrainerOptions {
  config: Gpt2Config;
  objective: Objective;
  /** Initial weights (float32; with score.weight for a "score" objective). Copied, never modified. */
  weights: Gpt2Weights;
  optimizer?: Partial<AdamWConfig>;
  schedule: LrSchedule;
  /** Micro-batches per optimizer step (gradient accumulation); default 1. */
  accumulation?: number;
  /** Parameters to train (default all). */
  trainable?: (name: string) => boolean;
  /** onnxruntime threads per operator (default: onnxruntime's, all cores). */
  intraOpThreads?: number;
  providers?: Provider[];
  /**
   * Let onnxruntime's threads spin-wait between operators. Off by default, as for the sampler: on a
   * shared 2-core machine spinning made steps slower (median 219–317 ms without, 294–678 ms with).
   */
  spinning?: boolean;
  /** Write an onnxruntime profile (Chrome trace JSON) with this file prefix. */
  profilePrefix?: string;
  log?: (line: string) => void;
}

export interface StepResult {
  /** Optimizer steps done, this one included. */
  step: number;
  /** The batch's loss (micro-batches weighted by their loss elements). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
  /** The objective's metrics, per micro-batch. */
  metrics: Record<string, number[]>[];
  /** Wall time of the step, and the part spent inside onnxruntime's runs (ms). */
  ms: number;
  runMs: number;
}

/** A step refused because a loss, gradient or updated parameter is not finite. */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    readonly tensor: string,
    detail: string,
  ) {
    super(`step ${step} refused: ${tensor} is ${detail}`);
    this.name = "NonFiniteError";
  }
}

/** Everything a checkpoint needs from the trainer. */
export interface TrainerState {
  step: number;
  weights: Map<string, TensorData>;
  adamM: Map<string, TensorData>;
  adamV: Map<string, TensorData>;
}

/** A float32 buffer and the onnxruntime tensor over it (created once, reused every step). */
interface Slot {
  data: Float32Array;
  tensor: OrtTensor;
}

function slot(dims: number[], from?: Float32Array): Slot {
  const t = float32(dims, from ? Float32Array.from(from) : undefined);
  return { data: t.data as Float32Array, tensor: toOrtTensor(t) };
}

/** A flat vector over the trainable parameters, with a tensor over each parameter's part. */
interface Flat extends Slot {
  views: Map<string, OrtTensor>;
}

/** Current and next buffers of one part of the training state; swapped when a step is accepted. */
interface Pair<T> {
  cur: T;
  next: T;
}

function swap<T>(p: Pair<T>): void {
  const t = p.cur;
  p.cur = p.next;
  p.next = t;
}

export class Trainer {
  private stepsDone = 0;
  private readonly trained: StepParam[];

  private constructor(
    private readonly opts: TrainerOptions,
    private readonly adam: AdamWConfig,
    private readonly graph: StepGraph,
    private readonly update: OrtSession,
    /** Gradients-only session for all but the last micro-batch (null without accumulation). */
    private readonly accumulate: OrtSession | null,
    /** Trainable parameters, flat (their per-parameter inputs view the same memory). */
    private readonly params: Pair<Flat>,
    /** Parameters fed but not trained. */
    private readonly frozen: Map<string, Slot>,
    private readonly m: Pair<Flat>,
    private readonly v: Pair<Flat>,
    /** Accumulated gradients (with accumulation only). */
    private readonly acc: Pair<Flat> | null,
    readonly provider: Provider,
  ) {
    this.trained = graph.params.filter((p) => p.trainable).sort((a, b) => a.offset - b.offset);
  }

  static async create(opts: TrainerOptions): Promise<Trainer> {
    validateSchedule(opts.schedule);
    const accumulation = opts.accumulation ?? 1;
    if (!Number.isInteger(accumulation) || accumulation < 1) throw new RangeError(`accumulation must be a positive integer, got ${accumulation}`);
    checkGpt2Weights(opts.config, opts.weights, opts.objective.head);
    const adam = { ...DEFAULT_ADAMW, ...opts.optimizer };
    const common = { config: opts.config, objective: opts.objective, trainable: opts.trainable };
    const graph = buildStepGraph({ ...common, mode: "update", accumulate: accumulation > 1, optimizer: adam });
    const sessionOpts = {
      intraOpThreads: opts.intraOpThreads,
      providers: opts.providers,
      spinning: opts.spinning ?? false,
      log: opts.log ?? (() => {}),
      profilePrefix: opts.profilePrefix,
    };
    const created = await createSession(serializeGraph(graph.graph), sessionOpts);
    const accumulate = accumulation > 1 ? (await createSession(serializeGraph(buildStepGraph({ ...common, mode: "gradients", accumulate: true }).graph), sessionOpts)).session : null;

    const trainable = graph.params.filter((p) => p.trainable);
    const flat = (): Flat => {
      const s = slot([graph.flatSize]);
      const views = new Map(trainable.map((p) => [p.name, toOrtTensor(float32(p.dims, s.data.subarray(p.offset, p.offset + p.size)))]));
      return { ...s, views };
    };
    const params = { cur: flat(), next: flat() };
    const frozen = new Map<string, Slot>();
    for (const p of graph.params) {
      const w = opts.weights.get(p.name)!;
      const init = w.dtype === "float32" ? (w.data as Float32Array) : Float32Array.from(w.data as Float64Array);
      if (p.trainable) params.cur.data.set(init, p.offset);
      else frozen.set(p.name, slot(p.dims, init));
    }
    const acc = accumulation > 1 ? { cur: flat(), next: flat() } : null;
    return new Trainer(opts, adam, graph, created.session, accumulate, params, frozen, { cur: flat(), next: flat() }, { cur: flat(), next: flat() }, acc, created.provider);
  }

  /** Optimizer steps taken. */
  get step(): number {
    return this.stepsDone;
  }

  get head(): Objective["head"] {
    return this.opts.objective.head;
  }

  get accumulation(): number {
    return this.opts.accumulation ?? 1;
  }

  get stepParams(): readonly StepParam[] {
    return this.graph.params;
  }

  /**
   * One optimizer step over `accumulation` micro-batches. Throws NonFiniteError (naming the step and
   * the tensor) and keeps the previous state when the loss, a gradient or an updated parameter is
   * not finite.
   */
  async trainStep(microBatches: Batch[]): Promise<StepResult> {
    if (microBatches.length !== this.accumulation) throw new RangeError(`trainStep: ${microBatches.length} micro-batches, expected ${this.accumulation}`);
    const stepNo = this.stepsDone + 1;
    const elements = microBatches.map((b) => this.opts.objective.lossElements(b));
    const totalElements = elements.reduce((a, b) => a + b, 0);
    if (totalElements === 0) throw new RangeError(`step ${stepNo}: the batch has nothing the loss counts (all masked)`);
    const lr = learningRate(this.opts.schedule, this.stepsDone);
    const scalars = adamScalars(this.adam, stepNo, lr);

    const t0 = performance.now();
    let runMs = 0;
    let loss = 0;
    let gradNorm = 0;
    const metrics: Record<string, number[]>[] = [];
    for (let i = 0; i < microBatches.length; i++) {
      const last = i === microBatches.length - 1;
      const feeds: Record<string, OrtTensor> = {};
      for (const name of this.graph.batchInputs) {
        const t = microBatches[i][name];
        if (!t) throw new RangeError(`step ${stepNo}: the batch lacks ${name}`);
        feeds[name] = toOrtTensor(t);
      }
      feeds[STEP_SCALARS.lossWeight] = scalarTensor(elements[i] / totalElements);
      for (const [name, view] of this.params.cur.views) feeds[name] = view;
      for (const [name, s] of this.frozen) feeds[name] = s.tensor;
      const fetches: Record<string, OrtTensor | null> = { loss: null, grad_sq_norms: null, grad_norm: null };
      for (const m of this.graph.metrics) fetches[`metric.${m}`] = null;
      if (this.acc) {
        // The first micro-batch starts from zero; later ones (and the update) add to the running sum.
        if (i === 0) this.acc.cur.data.fill(0);
        feeds[FLAT.acc] = this.acc.cur.tensor;
      }
      let session: OrtSession;
      if (last) {
        session = this.update;
        for (const [k, v] of Object.entries(scalars)) feeds[k] = scalarTensor(v);
        feeds[FLAT.params] = this.params.cur.tensor;
        feeds[FLAT.m] = this.m.cur.tensor;
        feeds[FLAT.v] = this.v.cur.tensor;
        fetches[FLAT.updated] = this.params.next.tensor;
        fetches[FLAT.mOut] = this.m.next.tensor;
        fetches[FLAT.vOut] = this.v.next.tensor;
        fetches.param_sq_norm = null;
      } else {
        session = this.accumulate!;
        fetches[FLAT.grad] = this.acc!.next.tensor;
      }
      const r0 = performance.now();
      const out = await session.run(feeds, fetches as Record<string, OrtTensor>);
      runMs += performance.now() - r0;
      const microLoss = first(out.loss);
      if (!Number.isFinite(microLoss)) throw new NonFiniteError(stepNo, microBatches.length > 1 ? `loss (micro-batch ${i + 1})` : "loss", String(microLoss));
      const sq = out.grad_sq_norms.data as Float32Array;
      sq.forEach((v, j) => {
        if (!Number.isFinite(v)) throw new NonFiniteError(stepNo, `gradient of ${this.trained[j].name}`, NON_FINITE);
      });
      gradNorm = first(out.grad_norm);
      if (!Number.isFinite(gradNorm)) throw new NonFiniteError(stepNo, "accumulated gradient", NON_FINITE);
      if (last && !Number.isFinite(first(out.param_sq_norm))) throw new NonFiniteError(stepNo, `updated ${this.firstBroken(this.params.next.data)}`, NON_FINITE);
      loss += (microLoss * elements[i]) / totalElements;
      metrics.push(Object.fromEntries(this.graph.metrics.map((m) => [m, Array.from(out[`metric.${m}`].data as Float32Array)])));
      if (!last) swap(this.acc!);
    }
    swap(this.params);
    swap(this.m);
    swap(this.v);
    this.stepsDone = stepNo;
    return { step: stepNo, loss, gradNorm, lr, metrics, ms: performance.now() - t0, runMs };
  }

  /** The current weights (copies, float32), heads included. */
  weights(): Gpt2Weights {
    return new Map([...this.state().weights].map(([name, t]) => [name, float32(t.dims, Float32Array.from(t.data as Float32Array))]));
  }

  /** Views of the whole training state, for checkpoints (valid until the next step). */
  state(): TrainerState {
    const part = (flat: Flat, p: StepParam): TensorData => ({ dtype: "float32", dims: p.dims, data: flat.data.subarray(p.offset, p.offset + p.size) });
    const weights = new Map<string, TensorData>();
    for (const p of this.graph.params) {
      weights.set(p.name, p.trainable ? part(this.params.cur, p) : { dtype: "float32", dims: p.dims, data: this.frozen.get(p.name)!.data });
    }
    return {
      step: this.stepsDone,
      weights,
      adamM: new Map(this.trained.map((p) => [p.name, part(this.m.cur, p)])),
      adamV: new Map(this.trained.map((p) => [p.name, part(this.v.cur, p)])),
    };
  }

  /** Restores a state saved by state() (checked name by name and shape by shape). */
  restore(s: TrainerState): void {
    const names = new Set(this.graph.params.map((p) => p.name));
    for (const name of s.weights.keys()) if (!names.has(name)) throw new Error(`restore: unexpected parameter ${name}`);
    const check = (t: TensorData | undefined, p: StepParam, what: string): Float32Array => {
      if (!t) throw new Error(`restore: ${what} ${p.name} missing`);
      if (t.dtype !== "float32" || t.dims.join(",") !== p.dims.join(",")) throw new Error(`restore: ${what} ${p.name} is ${t.dtype} [${t.dims}], expected float32 [${p.dims}]`);
      return t.data as Float32Array;
    };
    for (const p of this.graph.params) {
      const w = check(s.weights.get(p.name), p, "weights");
      if (!p.trainable) {
        this.frozen.get(p.name)!.data.set(w);
        continue;
      }
      this.params.cur.data.set(w, p.offset);
      this.m.cur.data.set(check(s.adamM.get(p.name), p, "adam.m"), p.offset);
      this.v.cur.data.set(check(s.adamV.get(p.name), p, "adam.v"), p.offset);
    }
    this.stepsDone = s.step;
  }

  /** Ends onnxruntime profiling (when profilePrefix was given) and returns the trace file it wrote. */
  endProfiling(): string | null {
    const prefix = this.opts.profilePrefix;
    if (!prefix) return null;
    this.update.endProfiling();
    const dir = path.dirname(prefix);
    const base = path.basename(prefix);
    const files = readdirSync(dir).filter((n) => n.startsWith(`${base}_`) && n.endsWith(".json"));
    return files.length ? path.join(dir, files.sort().at(-1)!) : null;
  }

  async dispose(): Promise<void> {
    await this.update.release();
    await this.accumulate?.release();
  }

  /** The first trained parameter holding a value that is not finite or would overflow when squared. */
  private firstBroken(flat: Float32Array): string {
    for (const p of this.trained) {
      const part = flat.subarray(p.offset, p.offset + p.size);
      if (part.some((x) => !(Math.abs(x) < 1.8e19))) return p.name;
    }
    return "parameters";
  }
}

const NON_FINITE = "not finite (a NaN or infinite value, or a norm beyond float32)";

function scalarTensor(v: number): OrtTensor {
  return toOrtTensor(float32([], [v]));
}

function first(t: OrtTensor): number {
  return Number((t.data as Float32Array)[0]);
}
