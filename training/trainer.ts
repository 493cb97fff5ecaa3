// Trainer: runs step graphs with onnxruntime and keeps the model's parameters and AdamW moments
// between steps. Parameters and moments live in JS buffers that onnxruntime reads in place (inputs)
// and writes in place (pre-allocated outputs); each step writes into a second set of buffers, and the
// two are swapped only when the step is accepted, so a refused step (non-finite loss or gradient)
// leaves the previous state untouched.

import type { Gpt2Config, Gpt2Weights } from "../inference/models/gpt2";
import { checkGpt2Weights } from "../inference/models/gpt2";
import { serializeGraph } from "../inference/onnx/serialize";
import { float32, type TensorData } from "../inference/onnx/tensor";
import { createSession, toOrtTensor, type OrtSession, type OrtTensor, type Provider } from "../inference/runtime/ort";
import type { Batch } from "./batch";
import type { Objective } from "./objectives";
import { learningRate, validateSchedule, type LrSchedule } from "./schedule";
import { buildStepGraph, DEFAULT_ADAMW, STEP_SCALARS, type AdamWConfig, type StepGraph, type StepParam } from "./step-graph";

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
  /** Let onnxruntime's threads spin between operators (faster steps; burns CPU while idle). Default true. */
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

/** Current and next buffers of one tensor of the training state. */
interface Pair {
  cur: Slot;
  next: Slot;
}

export class Trainer {
  private stepsDone = 0;

  private constructor(
    private readonly opts: TrainerOptions,
    private readonly adam: AdamWConfig,
    private readonly graph: StepGraph,
    private readonly update: OrtSession,
    /** Gradients-only session for all but the last micro-batch (null without accumulation). */
    private readonly accumulate: OrtSession | null,
    private readonly params: Map<string, Pair>,
    private readonly moments: Map<string, { m: Pair; v: Pair }>,
    /** Accumulated gradients (with accumulation only). */
    private readonly acc: Map<string, Pair>,
    readonly provider: Provider,
  ) {}

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
      spinning: opts.spinning ?? true,
      log: opts.log ?? (() => {}),
      profilePrefix: opts.profilePrefix,
    };
    const created = await createSession(serializeGraph(graph.graph), sessionOpts);
    const accumulate = accumulation > 1 ? (await createSession(serializeGraph(buildStepGraph({ ...common, mode: "gradients", accumulate: true }).graph), sessionOpts)).session : null;

    const params = new Map<string, Pair>();
    const moments = new Map<string, { m: Pair; v: Pair }>();
    const acc = new Map<string, Pair>();
    for (const p of graph.params) {
      const w = opts.weights.get(p.name)!;
      const init = w.dtype === "float32" ? (w.data as Float32Array) : Float32Array.from(w.data as Float64Array);
      params.set(p.name, { cur: slot(p.dims, init), next: slot(p.dims) });
      if (!p.trainable) continue;
      moments.set(p.name, { m: { cur: slot(p.dims), next: slot(p.dims) }, v: { cur: slot(p.dims), next: slot(p.dims) } });
      if (accumulation > 1) acc.set(p.name, { cur: slot(p.dims), next: slot(p.dims) });
    }
    return new Trainer(opts, adam, graph, created.session, accumulate, params, moments, acc, created.provider);
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
    const t = stepNo;
    const bc1 = 1 - this.adam.beta1 ** t;
    const bc2 = 1 - this.adam.beta2 ** t;
    const scalars = {
      [STEP_SCALARS.stepSize]: lr / bc1,
      [STEP_SCALARS.sqrtBiasCorrection2]: Math.sqrt(bc2),
      [STEP_SCALARS.decayFactor]: 1 - lr * this.adam.weightDecay,
    };

    let loss = 0;
    const metrics: Record<string, number[]>[] = [];
    let gradNorm = 0;
    for (let i = 0; i < microBatches.length; i++) {
      const last = i === microBatches.length - 1;
      const feeds: Record<string, OrtTensor> = {};
      for (const name of this.graph.batchInputs) {
        const t = microBatches[i][name];
        if (!t) throw new RangeError(`step ${stepNo}: the batch lacks ${name}`);
        feeds[name] = toOrtTensor(t);
      }
      feeds[STEP_SCALARS.lossWeight] = scalarTensor(elements[i] / totalElements);
      for (const [name, p] of this.params) feeds[name] = p.cur.tensor;
      const fetches: Record<string, OrtTensor | null> = { loss: null, grad_sq_norms: null, grad_norm: null };
      for (const m of this.graph.metrics) fetches[`metric.${m}`] = null;
      if (this.acc.size) {
        // The first micro-batch starts from zero; later ones (and the update) add to the running sum.
        if (i === 0) for (const a of this.acc.values()) a.cur.data.fill(0);
        for (const [name, a] of this.acc) feeds[`acc.${name}`] = a.cur.tensor;
      }
      let session: OrtSession;
      if (last) {
        session = this.update;
        for (const [k, v] of Object.entries(scalars)) feeds[k] = scalarTensor(v);
        for (const [name, { m, v }] of this.moments) {
          feeds[`adam.m.${name}`] = m.cur.tensor;
          feeds[`adam.v.${name}`] = v.cur.tensor;
          fetches[`adam.m_out.${name}`] = m.next.tensor;
          fetches[`adam.v_out.${name}`] = v.next.tensor;
          fetches[`updated.${name}`] = this.params.get(name)!.next.tensor;
        }
        fetches.param_sq_norms = null;
      } else {
        session = this.accumulate!;
        for (const [name, a] of this.acc) fetches[`grad.${name}`] = a.next.tensor;
      }
      const out = await session.run(feeds, fetches as Record<string, OrtTensor>);
      const microLoss = first(out.loss);
      if (!Number.isFinite(microLoss)) throw new NonFiniteError(stepNo, microBatches.length > 1 ? `loss (micro-batch ${i + 1})` : "loss", String(microLoss));
      this.checkFinite(stepNo, out.grad_sq_norms, "gradient of");
      if (last) this.checkFinite(stepNo, out.param_sq_norms, "updated");
      loss += (microLoss * elements[i]) / totalElements;
      gradNorm = first(out.grad_norm);
      metrics.push(Object.fromEntries(this.graph.metrics.map((m) => [m, Array.from(out[`metric.${m}`].data as Float32Array)])));
      if (!last) for (const a of this.acc.values()) swap(a);
    }
    for (const [name, p] of this.params) {
      if (!this.moments.has(name)) continue;
      swap(p);
      const mv = this.moments.get(name)!;
      swap(mv.m);
      swap(mv.v);
    }
    this.stepsDone = stepNo;
    return { step: stepNo, loss, gradNorm, lr, metrics };
  }

  /** The current weights (copies, float32), heads included. */
  weights(): Gpt2Weights {
    return new Map([...this.params].map(([name, p]) => [name, float32([...(p.cur.tensor.dims as number[])], Float32Array.from(p.cur.data))]));
  }

  /** Views of the whole training state, for checkpoints (valid until the next step). */
  state(): TrainerState {
    const view = (s: Slot): TensorData => ({ dtype: "float32", dims: [...(s.tensor.dims as number[])], data: s.data });
    return {
      step: this.stepsDone,
      weights: new Map([...this.params].map(([n, p]) => [n, view(p.cur)])),
      adamM: new Map([...this.moments].map(([n, mv]) => [n, view(mv.m.cur)])),
      adamV: new Map([...this.moments].map(([n, mv]) => [n, view(mv.v.cur)])),
    };
  }

  /** Restores a state saved by state() (checked name by name and shape by shape). */
  restore(s: TrainerState): void {
    const put = (into: Slot, t: TensorData | undefined, what: string) => {
      if (!t) throw new Error(`restore: ${what} missing`);
      const dims = into.tensor.dims as number[];
      if (t.dtype !== "float32" || t.dims.join(",") !== dims.join(",")) throw new Error(`restore: ${what} is ${t.dtype} [${t.dims}], expected float32 [${dims}]`);
      into.data.set(t.data as Float32Array);
    };
    for (const [name, p] of this.params) put(p.cur, s.weights.get(name), `weights ${name}`);
    for (const [name, mv] of this.moments) {
      put(mv.m.cur, s.adamM.get(name), `adam.m ${name}`);
      put(mv.v.cur, s.adamV.get(name), `adam.v ${name}`);
    }
    for (const name of s.weights.keys()) if (!this.params.has(name)) throw new Error(`restore: unexpected parameter ${name}`);
    this.stepsDone = s.step;
  }

  /** Ends onnxruntime profiling (when profilePrefix was given) and returns the trace file. */
  endProfiling(): string | null {
    if (!this.opts.profilePrefix) return null;
    return (this.update as unknown as { endProfiling(): string }).endProfiling?.() ?? null;
  }

  async dispose(): Promise<void> {
    await this.update.release();
    await this.accumulate?.release();
  }

  /** `sq` holds one squared norm per trained parameter, in the order of `moments`. */
  private checkFinite(stepNo: number, sq: OrtTensor, what: string): void {
    const values = sq.data as Float32Array;
    const names = [...this.moments.keys()];
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new NonFiniteError(stepNo, `${what} ${names[i]}`, "not finite (a NaN or infinite value, or a norm beyond float32)");
    }
  }
}

function swap(p: Pair): void {
  const t = p.cur;
  p.cur = p.next;
  p.next = t;
}

function scalarTensor(v: number): OrtTensor {
  return toOrtTensor(float32([], [v]));
}

function first(t: OrtTensor): number {
  return Number((t.data as Float32Array)[0]);
}
