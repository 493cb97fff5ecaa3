# The PyTorch anchor of `npm run bench:dpo`: the same DPO step as our trainer on the same files —
# summed log-probabilities of each reply's tokens, −log σ(β·[(log π − log π_ref)(chosen) − (…)(rejected)])
# averaged over the pairs, global-norm clipping, AdamW. Prints one JSON line: losses and step times.
#   /usr/bin/python3 torch_dpo_step.py <dir written by step.ts prepare> [threads | default]

import json
import os
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

params = load_params(spec["params"], f"{work}/policy.bin")
optimizer = adamw(params, spec["optimizer"], spec["lr"])


def tensor(k, name, dtype, shape):
    return torch.from_numpy(np.fromfile(f"{work}/b{k}.{name}.bin", dtype=dtype).reshape(shape).copy())


batches = []
for k, m in enumerate(spec["batches"]):
    shape = (m["rows"], m["length"])
    batches.append({
        "ids": tensor(k, "input_ids", "<i8", shape),
        "targets": tensor(k, "targets", "<i8", shape),
        "mask": tensor(k, "response_mask", "<f4", shape),
        "ref": tensor(k, "ref_logps", "<f4", (m["rows"] // 2, 2)),
    })

beta = spec["beta"]
losses, times = [], []
for step in range(spec["steps"]):
    b = batches[step % len(batches)]
    t0 = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    logits = hidden(params, spec["config"], b["ids"]) @ params["transformer.wte.weight"].t()
    logp = torch.gather(F.log_softmax(logits, dim=-1), 2, b["targets"].unsqueeze(-1)).squeeze(-1)
    seq = (logp * b["mask"]).sum(-1).view(-1, 2)
    z = beta * ((seq[:, 0] - b["ref"][:, 0]) - (seq[:, 1] - b["ref"][:, 1]))
    loss = -F.logsigmoid(z).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), spec["optimizer"]["maxGradNorm"])
    optimizer.step()
    times.append((time.perf_counter() - t0) * 1000)
    losses.append(loss.item())

print(json.dumps({"losses": losses, "step_ms": times, "torch": torch.__version__, "threads": threads}))
