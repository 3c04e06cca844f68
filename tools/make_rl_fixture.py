#!/usr/bin/python3
"""Writes ch07/tests/fixtures/rl_losses.json: the chapter 7 losses (GRPO with its advantage
scalings and loss types, PPO's rewards / GAE / whitening / clipped losses, DPO with the NLL
term) computed by PyTorch (Debian's python3-torch) the way TRL's trainers compute them, with
gradients from torch.autograd, so the C++ tests check against an independent implementation.
Run from the repository root:
    /usr/bin/python3 tools/make_rl_fixture.py
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(0)
cases = {}


def flat(t):
    return [round(float(v), 7) for v in t.detach().reshape(-1).tolist()]


def tensor(t):
    return {"shape": list(t.shape), "data": flat(t)}


def right_padded_mask(lengths, T):
    return torch.tensor([[1.0 if t < n else 0.0 for t in range(T)] for n in lengths])


# ---- GRPO: 2 prompts x G = 3 samples, completions of 2..5 tokens --------------------------------
G, T = 3, 5
lengths = [5, 2, 4, 3, 5, 1]
B = len(lengths)
mask = right_padded_mask(lengths, T)
logp = -torch.rand(B, T) * 3 - 0.05
# Old-policy log-probs a little off, so that some ratios leave [1 - eps, 1 + eps_high]
# (kept away from the clip boundaries so the test does not hinge on a tie).
shift = torch.tensor([-0.5, -0.1, 0.0, 0.1, 0.4, -0.35, 0.35, 0.05])
old_logp = logp - shift[torch.randint(0, len(shift), (B, T))]
ref_logp = logp + 0.3 * torch.randn(B, T)
rewards = torch.tensor([1.0, 0.0, 0.1, 1.0, 1.0, 0.0])


def advantages(r, scale):   # TRL GRPOTrainer._generate_and_score_completions
    mean = r.view(-1, G).mean(dim=1).repeat_interleave(G)
    if scale == "batch":
        std = r.std().expand_as(r)
    else:
        std = r.view(-1, G).std(dim=1).repeat_interleave(G)
    a = r - mean
    return a if scale == "none" else a / (std + 1e-4)


def grpo_loss(lp, adv, loss_type, eps=0.2, eps_high=0.28, beta=0.04, max_len=T):   # TRL GRPOTrainer._compute_loss
    coef_1 = torch.exp(lp - old_logp)
    coef_2 = torch.clamp(coef_1, 1 - eps, 1 + eps_high)
    per_token = -torch.min(coef_1 * adv.unsqueeze(1), coef_2 * adv.unsqueeze(1))
    kl = torch.exp(ref_logp - lp) - (ref_logp - lp) - 1
    per_token = per_token + beta * kl
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "dapo":
        return (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    return (per_token * mask).sum() / (per_token.size(0) * max_len)


grpo = {"group_size": G, "epsilon": 0.2, "epsilon_high": 0.28, "beta": 0.04, "max_completion_length": T,
        "logp": tensor(logp), "old_logp": tensor(old_logp), "ref_logp": tensor(ref_logp), "mask": tensor(mask),
        "rewards": flat(rewards), "advantages": {}, "losses": {}}
for scale in ["group", "batch", "none"]:
    grpo["advantages"][scale] = flat(advantages(rewards, scale))
adv = advantages(rewards, "group")
for loss_type in ["grpo", "dapo", "dr_grpo"]:
    lp = logp.clone().requires_grad_(True)
    loss = grpo_loss(lp, adv, loss_type)
    loss.backward()
    grpo["losses"][loss_type] = {"loss": float(loss), "grad": flat(lp.grad)}
cases["grpo"] = grpo

# ---- PPO: per-token KL in the reward, GAE, whitening, clipped policy and value losses ----------
lengths = [4, 2, 3]
B, T = len(lengths), 4
mask = right_padded_mask(lengths, T)
scores = torch.tensor([1.0, 0.0, 0.5])
old_logp = -torch.rand(B, T) * 2 - 0.1
ref_logp = old_logp + 0.2 * torch.randn(B, T)
values = torch.randn(B, T) * 0.5
kl_coef, gamma, lam, clip_eps, clip_value = 0.05, 0.9, 0.95, 0.2, 0.2

rewards = torch.zeros(B, T)
for i, n in enumerate(lengths):
    rewards[i, :n] = -kl_coef * (old_logp[i, :n] - ref_logp[i, :n])
    rewards[i, n - 1] += scores[i]

adv = torch.zeros(B, T)
for i, n in enumerate(lengths):   # the episode ends after the last completion token: V = 0 beyond it
    last = 0.0
    for t in reversed(range(n)):
        next_v = values[i, t + 1] if t + 1 < n else 0.0
        delta = rewards[i, t] + gamma * next_v - values[i, t]
        last = delta + gamma * lam * last
        adv[i, t] = last
returns = (adv + values) * mask


def masked_whiten(x, m, shift_mean=True):   # TRL's masked_whiten (unbiased variance)
    mean = (x * m).sum() / m.sum()
    var = (((x - mean) ** 2) * m).sum() / m.sum() * (m.sum() / (m.sum() - 1))
    w = (x - mean) * torch.rsqrt(var + 1e-8)
    return (w if shift_mean else w + mean) * m


white = masked_whiten(adv, mask)
logp_new = old_logp + 0.3 * torch.randn(B, T)
lp = logp_new.clone().requires_grad_(True)
ratio = torch.exp(lp - old_logp)
pg = torch.max(-white * ratio, -white * torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps))
policy_loss = (pg * mask).sum() / mask.sum()
policy_loss.backward()

values_new = values + 0.4 * torch.randn(B, T)
v = values_new.clone().requires_grad_(True)
v_clipped = values + torch.clamp(v - values, -clip_value, clip_value)
vf = torch.max((v - returns) ** 2, (v_clipped - returns) ** 2)
value_loss = 0.5 * (vf * mask).sum() / mask.sum()
value_loss.backward()

cases["ppo"] = {"kl_coef": kl_coef, "gamma": gamma, "lambda": lam, "clip_eps": clip_eps, "clip_value": clip_value,
                "scores": flat(scores), "old_logp": tensor(old_logp), "ref_logp": tensor(ref_logp), "mask": tensor(mask),
                "values": tensor(values), "rewards": flat(rewards), "advantages": flat(adv), "returns": flat(returns),
                "whitened": flat(white), "whitened_unshifted": flat(masked_whiten(adv, mask, False)),
                "logp": tensor(logp_new), "policy_loss": float(policy_loss), "policy_grad": flat(lp.grad),
                "values_new": tensor(values_new), "value_loss": float(value_loss), "value_grad": flat(v.grad)}

# ---- DPO: 3 pairs, sigmoid loss with beta, NLL on the chosen answer ---------------------------
beta, nll_weight = 0.1, 0.5
Tw, Tr = 4, 3
mask_w = right_padded_mask([4, 2, 3], Tw)
mask_l = right_padded_mask([1, 3, 2], Tr)
logp_w = -torch.rand(3, Tw) * 3 - 0.1
logp_l = -torch.rand(3, Tr) * 3 - 0.1
ref_w = logp_w + 0.5 * torch.randn(3, Tw)
ref_l = logp_l + 0.5 * torch.randn(3, Tr)
w = logp_w.clone().requires_grad_(True)
l = logp_l.clone().requires_grad_(True)
ratio_w = (w * mask_w).sum(-1) - (ref_w * mask_w).sum(-1)
ratio_l = (l * mask_l).sum(-1) - (ref_l * mask_l).sum(-1)
dpo = -F.logsigmoid(beta * (ratio_w - ratio_l)).mean()
nll = -(w * mask_w).sum() / mask_w.sum()
loss = dpo + nll_weight * nll
loss.backward()
cases["dpo"] = {"beta": beta, "nll_weight": nll_weight, "logp_chosen": tensor(logp_w), "mask_chosen": tensor(mask_w),
                "logp_rejected": tensor(logp_l), "mask_rejected": tensor(mask_l), "ref_chosen": tensor(ref_w),
                "ref_rejected": tensor(ref_l), "loss": float(loss), "nll": float(nll),
                "chosen_rewards": flat(beta * ratio_w), "rejected_rewards": flat(beta * ratio_l),
                "grad_chosen": flat(w.grad), "grad_rejected": flat(l.grad)}

with open("ch07/tests/fixtures/rl_losses.json", "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f)
print("wrote ch07/tests/fixtures/rl_losses.json with", len(cases), "cases")
