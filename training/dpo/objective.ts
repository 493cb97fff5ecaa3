// The DPO step's objective: a batch holds P pairs as 2P rows (chosen, rejected, chosen, …); the
// reference's summed log-probabilities come as ref_logps [P, 2].

import { AXES, gpt2LmHead } from "../../inference/models/gpt2";
import type { Graph, Value } from "../../inference/onnx/graph";
import { logSigmoid, tokenLogProbs } from "../losses";
import type { Objective } from "../objectives";
import type { DpoLoss } from "./config";

/** Metric outputs of the step graph → TRL's names. */
export const DPO_METRICS: Record<string, string> = {
  rewards_chosen: "rewards/chosen",
  rewards_rejected: "rewards/rejected",
  rewards_accuracies: "rewards/accuracies",
  rewards_margins: "rewards/margins",
  logps_chosen: "logps/chosen",
  logps_rejected: "logps/rejected",
};

export function dpoObjective(o: { beta: number; loss: DpoLoss; labelSmoothing: number }): Objective {
  return {
    head: "lm",
    inputs: ["targets", "response_mask", "ref_logps"],
    build({ g, config, forward, floatType }) {
      const k = (v: number) => g.constFloat(floatType, [v], true);
      const targets = g.input("targets", "int64", [AXES.batch, AXES.seq]);
      const mask = g.input("response_mask", floatType, [AXES.batch, AXES.seq]);
      const ref = g.input("ref_logps", floatType, ["pairs", 2]);
      const logits = gpt2LmHead(g, config, forward.hidden, forward.wte);
      const seq = g.reduceSum(g.mul(tokenLogProbs(g, logits, targets), mask), [1], false); // [2P]
      const pairs = g.reshape(seq, [-1, 2], { shape: ["pairs", 2] });
      const column = (x: Value, i: number) => g.reshape(g.slice(x, [i], [i + 1], [1]), [-1], { shape: ["pairs"] });
      const [lc, lr] = [column(pairs, 0), column(pairs, 1)];
      const rewardChosen = g.mul(k(o.beta), g.sub(lc, column(ref, 0)));
      const rewardRejected = g.mul(k(o.beta), g.sub(lr, column(ref, 1)));
      const z = g.sub(rewardChosen, rewardRejected); // β·[(log π − log π_ref)(c) − (…)(r)]
      const perPair = lossOf(g, z, o, k);
      const mean = (x: Value) => g.reduceMean(x, [0], false);
      return {
        loss: mean(perPair),
        metrics: {
          rewards_chosen: mean(rewardChosen),
          rewards_rejected: mean(rewardRejected),
          rewards_accuracies: mean(g.cast(g.greater(rewardChosen, rewardRejected), floatType)),
          rewards_margins: mean(z),
          logps_chosen: mean(lc),
          logps_rejected: mean(lr),
        },
      };
    },
    lossElements: (batch) => batch.ref_logps.dims[0],
  };
}

function lossOf(g: Graph, z: Value, o: { beta: number; loss: DpoLoss; labelSmoothing: number }, k: (v: number) => Value): Value {
  if (o.loss === "ipo") {
    // (log-ratio difference − 1/(2β))², the log-ratio difference being z/β.
    const d = g.sub(g.div(z, k(o.beta)), k(1 / (2 * o.beta)));
    return g.mul(d, d);
  }
  if (o.loss === "hinge") return g.max(g.sub(k(1), z), k(0));
  const main = g.neg(logSigmoid(g, z));
  if (!o.labelSmoothing) return main;
  return g.add(g.mul(k(1 - o.labelSmoothing), main), g.mul(k(o.labelSmoothing), g.neg(logSigmoid(g, g.neg(z)))));
}
