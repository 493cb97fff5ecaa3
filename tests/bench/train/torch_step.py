# The PyTorch anchor of `npm run bench:train`: the same GPT-2 (tied LM head, pre-LN, tanh GELU, learned
# positions), the same initial weights and batches (read from the files the benchmark writes), the same
# loss (mean next-token cross-entropy over positions 0..T-2), global-norm clipping and AdamW with
# decay on >= 2-D parameters only. Prints one JSON line: losses per step and step times.
#   /usr/bin/python3 torch_step.py <dir written by tests/bench/train.ts> [threads | default]
# "default" keeps PyTorch's own threading (here: 1 OpenMP thread, OpenBLAS on every core).

import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

work = sys.argv[1]
spec = json.load(open(f"{work}/spec.json"))
threads = sys.argv[2] if len(sys.argv) > 2 else str(spec["threads"])
if threads != "default":
    torch.set_num_threads(int(threads))
torch.manual_seed(0)
c = spec["config"]
D, H, L, V = c["nEmbd"], c["nHead"], c["nLayer"], c["vocabSize"]
Dh = D // H
eps = c["layerNormEpsilon"]

blob = np.fromfile(f"{work}/weights.bin", dtype="<f4")
params = {}
for p in spec["params"]:
    n = int(np.prod(p["dims"]))
    params[p["name"]] = torch.nn.Parameter(torch.from_numpy(blob[p["offset"] : p["offset"] + n].reshape(p["dims"]).copy()))
ids_all = torch.from_numpy(np.fromfile(f"{work}/batches.bin", dtype="<i8").reshape(spec["batches"], spec["batch"], spec["seq"]).copy())


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


T = spec["seq"]
causal = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
masked = torch.tensor(torch.finfo(torch.float32).min)


def forward(ids):
    P = lambda n: params[n]
    B = ids.shape[0]
    pos = torch.arange(T)
    h = P("transformer.wte.weight")[ids] + P("transformer.wpe.weight")[pos]
    for i in range(L):
        p = f"transformer.h.{i}"
        x = F.layer_norm(h, (D,), P(f"{p}.ln_1.weight"), P(f"{p}.ln_1.bias"), eps)
        qkv = torch.addmm(P(f"{p}.attn.c_attn.bias"), x.view(-1, D), P(f"{p}.attn.c_attn.weight")).view(B, T, 3 * D)
        q, k, v = qkv.split(D, dim=2)
        q = q.view(B, T, H, Dh).transpose(1, 2)
        k = k.view(B, T, H, Dh).transpose(1, 2)
        v = v.view(B, T, H, Dh).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(Dh))
        att = torch.where(causal, att, masked).softmax(dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(B, T, D)
        h = h + torch.addmm(P(f"{p}.attn.c_proj.bias"), ctx.view(-1, D), P(f"{p}.attn.c_proj.weight")).view(B, T, D)
        x = F.layer_norm(h, (D,), P(f"{p}.ln_2.weight"), P(f"{p}.ln_2.bias"), eps)
        fc = gelu_new(torch.addmm(P(f"{p}.mlp.c_fc.bias"), x.view(-1, D), P(f"{p}.mlp.c_fc.weight")))
        h = h + torch.addmm(P(f"{p}.mlp.c_proj.bias"), fc, P(f"{p}.mlp.c_proj.weight")).view(B, T, D)
    h = F.layer_norm(h, (D,), P("transformer.ln_f.weight"), P("transformer.ln_f.bias"), eps)
    return h @ P("transformer.wte.weight").t()  # [B, T, V]


opt = spec["optimizer"]
decay = [p for n, p in params.items() if p.dim() >= 2]
no_decay = [p for n, p in params.items() if p.dim() < 2]
optimizer = torch.optim.AdamW(
    [{"params": decay, "weight_decay": opt["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
    lr=spec["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"],
)

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
