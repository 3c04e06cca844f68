#!/usr/bin/python3
"""Writes ch08/tests/fixtures/distill.json: the distillation divergences and losses of chapter 8
computed by PyTorch (Debian's python3-torch), with gradients from torch.autograd, so the C++
tests check against an independent implementation.

- forward KL, Hinton's KD term: T^2 * KL(p_teacher || q_student), written with F.kl_div, whose
  argument order is the usual pitfall: F.kl_div(input, target) is KL(target || input) and wants
  the *student's log-probs first*. The fixture also stores the swapped call, which is the reverse
  KL, so the tests can show the two differ.
- the generalised JSD of GKD (Agarwal et al. 2024) the way TRL's GKDTrainer.generalized_jsd_loss
  computes it: beta = 0 forward KL, beta = 1 reverse KL, else the mixture in log space.
- the logit-KD loss alpha * T^2 * KL + (1 - alpha) * CE over the positions whose target is not -100.
Run from the repository root:
    /usr/bin/python3 tools/make_distill_fixture.py
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(0)


def flat(t):
    return [round(float(v), 7) for v in t.detach().reshape(-1).tolist()]


def tensor(t):
    return {"shape": list(t.shape), "data": flat(t)}


def jsd(student, teacher, beta, T):
    """Per-row T^2 * JSD_beta(p_teacher || q_student), as TRL's generalized_jsd_loss (sum over V)."""
    s = F.log_softmax(student / T, dim=-1)
    t = F.log_softmax(teacher / T, dim=-1)
    if beta == 0:
        d = F.kl_div(s, t, reduction="none", log_target=True)          # KL(teacher || student)
    elif beta == 1:
        d = F.kl_div(t, s, reduction="none", log_target=True)          # KL(student || teacher)
    else:
        b = torch.tensor(beta, dtype=s.dtype)
        m = torch.logsumexp(torch.stack([s + torch.log(1 - b), t + torch.log(b)]), dim=0)
        d = b * F.kl_div(m, t, reduction="none", log_target=True) + (1 - b) * F.kl_div(m, s, reduction="none", log_target=True)
    return d.sum(-1) * T * T


N, V = 6, 9
student = torch.randn(N, V) * 2
teacher = torch.randn(N, V) * 2
teacher[0] = student[0]                 # a row where the two agree: every divergence is 0
teacher[1, 3] += 12.0                   # a confident teacher: tiny probabilities elsewhere
weights = torch.randn(N)                # the gradient is of sum(divergence * weights)

divergences = []
for T in [1.0, 2.0, 4.0]:
    for beta in [0.0, 0.1, 0.5, 0.9, 1.0]:
        s = student.clone().requires_grad_()
        d = jsd(s, teacher, beta, T)
        (d * weights).sum().backward()
        divergences.append({"temperature": T, "beta": beta, "value": flat(d), "grad": flat(s.grad)})

# The pitfall: the teacher's log-probs as F.kl_div's first argument gives KL(student || teacher).
s_log, t_log = F.log_softmax(student, -1), F.log_softmax(teacher, -1)
swapped = F.kl_div(t_log, s_log, reduction="none", log_target=True).sum(-1)
# ... and probabilities instead of log-probs as `input` (without log_target) is not a KL at all.
probs_as_input = F.kl_div(F.softmax(student, -1), F.softmax(teacher, -1), reduction="none").sum(-1)

# Logit KD on [B, T, V] with two masked positions.
B, L = 2, 4
s3 = (torch.randn(B, L, V) * 1.5).requires_grad_()
t3 = torch.randn(B, L, V) * 1.5
targets = torch.randint(0, V, (B, L))
targets[0, 0] = -100
targets[1, 3] = -100
alpha, T = 0.7, 2.0
mask = (targets != -100).float()
kl = F.kl_div(F.log_softmax(s3 / T, -1), F.log_softmax(t3 / T, -1), reduction="none", log_target=True).sum(-1) * T * T
soft = (kl * mask).sum() / mask.sum()
hard = F.cross_entropy(s3.reshape(-1, V), targets.reshape(-1), ignore_index=-100)
loss = alpha * soft + (1 - alpha) * hard
loss.backward()

fixture = {
    "student": tensor(student),
    "teacher": tensor(teacher),
    "weights": flat(weights),
    "divergences": divergences,
    "kl_div_swapped": flat(swapped),
    "kl_div_probs_as_input": flat(probs_as_input),
    "logit_kd": {
        "student": tensor(s3), "teacher": tensor(t3), "targets": targets.reshape(-1).tolist(),
        "alpha": alpha, "temperature": T,
        "soft": float(soft), "hard": float(hard), "loss": float(loss), "grad": flat(s3.grad),
    },
}
with open("ch08/tests/fixtures/distill.json", "w") as f:
    json.dump(fixture, f, indent=1)
print("wrote ch08/tests/fixtures/distill.json")
