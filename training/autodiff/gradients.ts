// Reverse-mode differentiation of a forward Graph: walks its nodes backwards (they are kept in
// topological order) and appends the backward nodes to the same graph, so one ONNX graph computes
// forward, gradients and whatever consumes them (the optimizer update).

import type { Graph, GraphNode, Value } from "../../inference/onnx/graph";
import { isFloat, type TensorData } from "../../inference/onnx/tensor";
import { GradientBuildError, scalar, sumAll, zerosLike } from "./helpers";
import { GRADIENT_RULES } from "./rules";

/** What a gradient rule sees of one forward node. */
export interface GradContext {
  g: Graph;
  node: GraphNode;
  /** The node's input values (null where an optional input is omitted). */
  inputs: (Value | null)[];
  /** The node's outputs (undefined where an optional output is omitted). */
  outputs: (Value | undefined)[];
  /** The gradient flowing into each output (null when that output does not reach the loss). */
  dY: (Value | null)[];
  /** Which inputs need a gradient. */
  needs: boolean[];
  /** The value of a constant input (a Constant node), or null. Rules read shapes, axes and sizes with it. */
  constant(index: number): TensorData | null;
  /** "Op node-name", for error messages. */
  where: string;
}

/** One rule per op type: returns the gradient of each input (null where not needed or not defined). */
export type GradientRule = (ctx: GradContext) => (Value | null)[];

export interface GradientOptions {
  /** The loss's incoming gradient (e.g. a loss-weight input for gradient accumulation); 1 by default. */
  seed?: Value;
}

/**
 * Appends to `g` the nodes computing d`loss`/d`x` for every x in `wrt` and returns them by name.
 * Integer and bool values carry no gradient. A value used several times gets the sum of its uses'
 * gradients. Throws GradientBuildError naming the op and node when a node on the path from `wrt`
 * to `loss` has no rule. A `wrt` value that does not reach the loss gets zeros.
 */
export function buildGradients(g: Graph, loss: Value, wrt: Value[], opts: GradientOptions = {}): Map<string, Value> {
  if (!isFloat(loss.dtype)) throw new GradientBuildError(`loss ${loss.name} is ${loss.dtype}, not a float tensor`);
  const forward = g.nodes.slice();
  const constants = new Map<string, TensorData>();
  for (const n of forward) if (n.opType === "Constant" && n.attrs.value?.kind === "tensor") constants.set(n.outputs[0], n.attrs.value.value);

  // Values that depend on a `wrt` value through float tensors.
  const active = new Set(wrt.map((v) => v.name));
  for (const n of forward) {
    if (!n.inputs.some((i) => active.has(i))) continue;
    for (const o of n.outputs) if (o && isFloat(value(g, o).dtype)) active.add(o);
  }
  if (!active.has(loss.name)) throw new GradientBuildError(`loss ${loss.name} does not depend on any of the values differentiated for`);
  // Of those, the ones the loss depends on.
  const needed = new Set([loss.name]);
  for (let k = forward.length - 1; k >= 0; k--) {
    const n = forward[k];
    if (!n.outputs.some((o) => needed.has(o))) continue;
    for (const i of n.inputs) if (active.has(i)) needed.add(i);
  }

  const contributions = new Map<string, Value[]>();
  const contribute = (name: string, grad: Value) => {
    const list = contributions.get(name);
    if (list) list.push(grad);
    else contributions.set(name, [grad]);
  };
  const gradOf = (name: string): Value | null => {
    const parts = contributions.get(name);
    if (!parts) return null;
    const total = sumAll(g, parts);
    contributions.set(name, [total]);
    return total;
  };

  return g.scope("grad", () => {
    contribute(loss.name, opts.seed ?? scalar(g, 1, loss));
    for (let k = forward.length - 1; k >= 0; k--) {
      const node = forward[k];
      const needs = node.inputs.map((i) => i !== "" && needed.has(i));
      if (!needs.some(Boolean)) continue;
      const dY = node.outputs.map((o) => (needed.has(o) ? gradOf(o) : null));
      if (dY.every((d) => d === null)) continue;
      const where = `${node.opType} node ${node.name}`;
      const rule = node.domain === "" ? GRADIENT_RULES[node.opType] : undefined;
      if (!rule) throw new GradientBuildError(`no gradient rule for op ${node.domain ? `${node.domain}.` : ""}${node.opType} (node ${node.name})`);
      const ctx: GradContext = {
        g,
        node,
        inputs: node.inputs.map((i) => (i === "" ? null : value(g, i))),
        outputs: node.outputs.map((o) => (o ? value(g, o) : undefined)),
        dY,
        needs,
        constant: (index) => constants.get(node.inputs[index]) ?? null,
        where,
      };
      const grads = rule(ctx);
      needs.forEach((need, i) => {
        if (!need) return;
        const grad = grads[i];
        if (!grad) throw new GradientBuildError(`${where}: the rule gives no gradient for input ${i} (${node.inputs[i]})`);
        contribute(node.inputs[i], grad);
      });
    }
    const out = new Map<string, Value>();
    for (const v of wrt) out.set(v.name, gradOf(v.name) ?? zerosLike(g, v));
    return out;
  });
}

function value(g: Graph, name: string): Value {
  const v = g.values.get(name);
  if (!v) throw new GradientBuildError(`value ${name} is not declared in graph ${g.name}`);
  return v;
}
