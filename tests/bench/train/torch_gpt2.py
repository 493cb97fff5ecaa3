# The GPT-2 the PyTorch anchors of the training benchmarks run: tied LM head, pre-LN, tanh GELU,
# learned positions, weights read from the float32 blob the benchmarks write (state-dict order).

import math

import numpy as np
import torch
import torch.nn.functional as F


def load_params(spec_params, file):
    blob = np.fromfile(file, dtype="<f4")
    params = {}
    for p in spec_params:
        n = int(np.prod(p["dims"]))
        params[p["name"]] = torch.nn.Parameter(torch.from_numpy(blob[p["offset"] : p["offset"] + n].reshape(p["dims"]).copy()))
    return params


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def hidden(params, c, ids):
    """Final hidden states [B, T, D] of right-padded ids (real tokens never attend to later padding)."""
    D, H, L = c["nEmbd"], c["nHead"], c["nLayer"]
    Dh = D // H
    eps = c["layerNormEpsilon"]
    B, T = ids.shape
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
    masked = torch.tensor(torch.finfo(torch.float32).min)
    P = lambda n: params[n]
    h = P("transformer.wte.weight")[ids] + P("transformer.wpe.weight")[torch.arange(T)]
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
    return F.layer_norm(h, (D,), P("transformer.ln_f.weight"), P("transformer.ln_f.bias"), eps)


def adamw(params, opt, lr):
    """AdamW with decay on >= 2-D parameters only, as the trainer does."""
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": opt["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"],
    )
