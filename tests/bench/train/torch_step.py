# The PyTorch anchor of `npm run bench:train`: the same GPT-2 (tied LM head, pre-LN, tanh GELU, learned
# positions), the same initial weights and batches (read from the files the benchmark writes), the same
# loss (mean next-token cross-entropy over positions 0..T-2), global-norm clipping and AdamW with
# decay on >= 2-D parameters only. Prints one JSON line: losses per step and step times.
#   /usr/bin/python3 torch_step.py <dir written by tests/bench/train.ts> [threads | default]
# "default" keeps PyTorch's own threading (here: 1 OpenMP thread, OpenBLAS on every core).

import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gpt2 import adamw, hidden, load_params  # noqa: E402

work = sys.argv[1]
spec = json.load(open(f"{work}/spec.json"))
threads = sys.argv[2] if len(sys.argv) > 2 else str(spec["threads"])
if threads != "default":
    torch.set_num_threads(int(threads))
torch.manual_seed(0)
c = spec["config"]
V = c["vocabSize"]

params = load_params(spec["params"], f"{work}/weights.bin")
ids_all = torch.from_numpy(np.fromfile(f"{work}/batches.bin", dtype="<i8").reshape(spec["batches"], spec["batch"], spec["seq"]).copy())
opt = spec["optimizer"]
optimizer = adamw(params, opt, spec["lr"])


def forward(ids):
    return hidden(params, c, ids) @ params["transformer.wte.weight"].t()  # [B, T, V]


losses, times = [], []
for step in range(spec["steps"]):
    ids = ids_all[step % spec["batches"]]
    t0 = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    logits = forward(ids)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), opt["maxGradNorm"])
    optimizer.step()
    times.append((time.perf_counter() - t0) * 1000)
    losses.append(loss.item())

import resource

print(json.dumps({"losses": losses, "step_ms": times, "torch": torch.__version__, "threads": threads, "torch_threads": torch.get_num_threads(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
