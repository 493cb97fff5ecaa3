# The PyTorch anchor of `npm run bench:rm`: the reward model's training step on the same GPT-2 backbone
# and score head (Hugging Face GPT2ForSequenceClassification: score read at the last non-pad token), the
# same initial weights and the same K-way batches (read from the files tests/bench/rm.ts writes), the
# same loss (-log sigmoid(r_w - r_l) averaged over each ranked set's pairs, then over sets), global-norm
# clipping and AdamW with decay on >= 2-D parameters only. Prints one JSON line: losses and step times.
#   /usr/bin/python3 torch_rm_step.py <dir> [threads | default]

import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from torch_gpt2 import adamw, hidden, load_params  # noqa: E402

work = sys.argv[1]
spec = json.load(open(f"{work}/spec.json"))
threads = sys.argv[2] if len(sys.argv) > 2 else str(spec["threads"])
if threads != "default":
    torch.set_num_threads(int(threads))
c = spec["config"]

params = load_params(spec["params"], f"{work}/weights.bin")
ints = np.fromfile(f"{work}/batches.bin", dtype="<i8")
batches = []
for b in spec["batches"]:
    R, T, P, K, o = b["rows"], b["seq"], b["prompts"], b["k"], b["offset"]
    ids = torch.from_numpy(ints[o : o + R * T].reshape(R, T).copy())
    mask = torch.from_numpy(ints[o + R * T : o + 2 * R * T].reshape(R, T).copy())
    ranks = torch.from_numpy(ints[o + 2 * R * T : o + 2 * R * T + P * K].reshape(P, K).copy())
    # Pairs (i beats j) of each set, and which sets have any.
    better = (ranks.unsqueeze(2) < ranks.unsqueeze(1)) & (ranks.unsqueeze(2) >= 0) & (ranks.unsqueeze(1) >= 0)
    batches.append((ids, mask, better))


def rewards(ids, mask):
    """Score at the last real token of each right-padded row: [B, 1]."""
    last = mask.sum(-1) - 1
    return hidden(params, c, ids)[torch.arange(ids.shape[0]), last] @ params["score.weight"].t()


def loss_of(r, better):
    P_, K = better.shape[0], better.shape[1]
    r = r.view(P_, K)
    d = r.unsqueeze(2) - r.unsqueeze(1)
    per_pair = -F.logsigmoid(d) * better
    pairs = better.sum((1, 2))
    has = pairs > 0
    return (per_pair.sum((1, 2))[has] / pairs[has]).mean()


opt = spec["optimizer"]
optimizer = adamw(params, opt, spec["lr"])

losses, times = [], []
for step in range(spec["steps"]):
    ids, mask, better = batches[step % len(batches)]
    t0 = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_of(rewards(ids, mask), better)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), opt["maxGradNorm"])
    optimizer.step()
    times.append((time.perf_counter() - t0) * 1000)
    losses.append(loss.item())

print(json.dumps({"losses": losses, "step_ms": times, "torch": torch.__version__, "threads": threads,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
