# The PyTorch anchor of `npm run bench:rm`: the reward model's training step on the same GPT-2 backbone
# and score head (Hugging Face GPT2ForSequenceClassification: score read at the last non-pad token), the
# same initial weights and the same K-way batches (read from the files tests/bench/rm.ts writes), the
# same loss (-log sigmoid(r_w - r_l) averaged over each ranked set's pairs, then over sets), global-norm
# clipping and AdamW with decay on >= 2-D parameters only. Prints one JSON line: losses and step times.
#   /usr/bin/python3 torch_rm_step.py <dir> [threads | default]

import json
import math
import resource
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
c = spec["config"]
D, H, L = c["nEmbd"], c["nHead"], c["nLayer"]
Dh = D // H
eps = c["layerNormEpsilon"]

blob = np.fromfile(f"{work}/weights.bin", dtype="<f4")
params = {}
for p in spec["params"]:
    n = int(np.prod(p["dims"]))
    params[p["name"]] = torch.nn.Parameter(torch.from_numpy(blob[p["offset"] : p["offset"] + n].reshape(p["dims"]).copy()))
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

masked = torch.tensor(torch.finfo(torch.float32).min)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def rewards(ids, mask):
    P = lambda n: params[n]
    B, T = ids.shape
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T) & mask.bool().view(B, 1, 1, T)
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
        att = torch.where(allowed, att, masked).softmax(dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(B, T, D)
        h = h + torch.addmm(P(f"{p}.attn.c_proj.bias"), ctx.view(-1, D), P(f"{p}.attn.c_proj.weight")).view(B, T, D)
        x = F.layer_norm(h, (D,), P(f"{p}.ln_2.weight"), P(f"{p}.ln_2.bias"), eps)
        fc = gelu_new(torch.addmm(P(f"{p}.mlp.c_fc.bias"), x.view(-1, D), P(f"{p}.mlp.c_fc.weight")))
        h = h + torch.addmm(P(f"{p}.mlp.c_proj.bias"), fc, P(f"{p}.mlp.c_proj.weight")).view(B, T, D)
    last = mask.sum(-1) - 1
    h = h[torch.arange(B), last]  # the score is linear in the final hidden state: read the last token first
    h = F.layer_norm(h, (D,), P("transformer.ln_f.weight"), P("transformer.ln_f.bias"), eps)
    return h @ P("score.weight").t()  # [B, 1]


def loss_of(r, better):
    P_, K = better.shape[0], better.shape[1]
    r = r.view(P_, K)
    d = r.unsqueeze(2) - r.unsqueeze(1)
    per_pair = -F.logsigmoid(d) * better
    pairs = better.sum((1, 2))
    has = pairs > 0
    return (per_pair.sum((1, 2))[has] / pairs[has]).mean()


opt = spec["optimizer"]
decay = [p for n, p in params.items() if p.dim() >= 2]
no_decay = [p for n, p in params.items() if p.dim() < 2]
optimizer = torch.optim.AdamW(
    [{"params": decay, "weight_decay": opt["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
    lr=spec["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"],
)

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
