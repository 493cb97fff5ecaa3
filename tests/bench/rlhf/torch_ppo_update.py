# The PyTorch anchor of `npm run bench:rlhf`: the same PPO update as our trainer on the same files —
# the policy's clipped surrogate on logits / temperature (with TRL's entropy statistic) and the value
# model's clipped loss × vf_coef, each followed by global-norm clipping and AdamW, over the epochs and
# minibatches of one rollout. Prints one JSON line: losses per step and step times.
#   /usr/bin/python3 torch_ppo_update.py <dir written by update.ts prepare> [threads | default]

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

policy = load_params(spec["policy"]["params"], f"{work}/policy.bin")
value = load_params(spec["value"]["params"], f"{work}/value.bin")
opt = spec["optimizer"]
policy_opt = adamw(policy, opt, spec["lr"])
value_opt = adamw(value, opt, spec["lr"])


def tensor(i, name, dtype, shape):
    return torch.from_numpy(np.fromfile(f"{work}/mb{i}.{name}.bin", dtype=dtype).reshape(shape).copy())


batches = []
for i, m in enumerate(spec["minibatches"]):
    shape = (m["rows"], m["length"])
    b = {k: tensor(i, k, "<i8", shape) for k in ["ids", "targets", "attention_mask"]}
    b.update({k: tensor(i, k, "<f4", shape) for k in ["response_mask", "old_logprobs", "advantages", "old_values", "returns"]})
    batches.append(b)


def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum().clamp(min=1)


def policy_step(b):
    policy_opt.zero_grad(set_to_none=True)
    logits = hidden(policy, spec["policy"]["config"], b["ids"]) @ policy["transformer.wte.weight"].t()
    logits = logits / spec["temperature"]
    logp = torch.gather(F.log_softmax(logits, dim=-1), 2, b["targets"].unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(logp - b["old_logprobs"])
    a = b["advantages"]
    eps = spec["cliprange"]
    loss = masked_mean(torch.max(-a * ratio, -a * torch.clamp(ratio, 1 - eps, 1 + eps)), b["response_mask"])
    with torch.no_grad():
        prob = F.softmax(logits, dim=-1)
        masked_mean(torch.logsumexp(logits, dim=-1) - (prob * logits).sum(-1), b["response_mask"])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(policy.values()), opt["maxGradNorm"])
    policy_opt.step()
    return loss.item()


def value_step(b):
    value_opt.zero_grad(set_to_none=True)
    v = (hidden(value, spec["value"]["config"], b["ids"]) @ value["score.weight"].t()).squeeze(-1)
    old, ret, eps = b["old_values"], b["returns"], spec["cliprangeValue"]
    clipped = old + torch.clamp(v - old, -eps, eps)
    loss = spec["vfCoef"] * 0.5 * masked_mean(torch.max((v - ret) ** 2, (clipped - ret) ** 2), b["response_mask"])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(value.values()), opt["maxGradNorm"])
    value_opt.step()
    return loss.item()


policy_loss, value_loss, times = [], [], []
for epoch in range(spec["epochs"]):
    for b in batches:
        t0 = time.perf_counter()
        policy_loss.append(policy_step(b))
        value_loss.append(value_step(b))
        times.append((time.perf_counter() - t0) * 1000)

print(json.dumps({"policy_loss": policy_loss, "value_loss": value_loss, "step_ms": times, "torch": torch.__version__, "threads": threads}))
