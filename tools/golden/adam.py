#!/usr/bin/python3
"""Golden data for Adam and the learning-rate schedule (tests/test_optim.cpp).

adam_two_groups: torch.optim.Adam over a Linear(5, 3) and a Conv2d(2, 3, 3) in two
    parameter groups with different lr, betas and eps, for 10 steps, once in
    float32 and once in float64. The gradient at step k is a_p * p + b_p_k (a
    function of the current parameter, so differences would compound); a and b
    are stored. Per parameter p and precision s (f32, f64):
      param_<p>            the starting value (float32-representable)
      a_<p>, b_<p>         the gradient's coefficients; b holds one row per step
      <s>_param_<p>        the parameter after each step, one row per step
      <s>_exp_avg_<p>, <s>_exp_avg_sq_<p>, step   the optimizer state after 10 steps
adam_schedule_spade, adam_schedule_end2end: SPADE's update_learning_rate (Pix2PixTrainer,
    copied into SB-GAN's end-to-end trainer) with lr 2e-4, niter 3, niter_decay 4,
    called with 1-based epochs 1..7 (SPADE's train.py) and 0-based 0..6 (SB-GAN's
    trainer): epoch, base, g, d after each call, and changed (0/1).
Run:  /usr/bin/python3 tools/golden/adam.py [out_dir]
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from make_golden import OUT, f32, save  # noqa: E402

STEPS = 10
GROUPS = [dict(lr=1e-2, betas=(0.0, 0.99), eps=1e-8), dict(lr=3e-3, betas=(0.5, 0.9), eps=1e-6)]


def adam():
    case = "adam_two_groups"
    torch.manual_seed(301)
    linear, conv = nn.Linear(5, 3), nn.Conv2d(2, 3, 3)
    named = [("linear." + n, p) for n, p in linear.named_parameters()] + \
            [("conv." + n, p) for n, p in conv.named_parameters()]
    start = {n: f32(*p.shape) for n, p in named}
    a = {n: f32(*p.shape) * 0.5 for n, p in named}
    b = {(n, k): f32(*p.shape) for n, p in named for k in range(1, STEPS + 1)}
    for n, _ in named:
        save(case, "param_" + n, start[n])
        save(case, "a_" + n, a[n])
        save(case, "b_" + n, torch.stack([b[(n, k)].reshape(-1) for k in range(1, STEPS + 1)]))
    for prefix, dtype in [("f32", torch.float32), ("f64", torch.float64)]:
        params = {n: start[n].to(dtype).clone().requires_grad_(True) for n, _ in named}
        names = list(params)
        groups = [dict(params=[params[n] for n in names if n.startswith("linear.")], **GROUPS[0]),
                  dict(params=[params[n] for n in names if n.startswith("conv.")], **GROUPS[1])]
        opt = torch.optim.Adam(groups)
        trajectory = {n: [] for n in names}
        for k in range(1, STEPS + 1):
            for n, p in params.items():
                p.grad = p.detach() * a[n].to(dtype) + b[(n, k)].to(dtype)
            opt.step()
            for n, p in params.items():
                trajectory[n].append(p.detach().reshape(-1).clone())
        for n in names:
            save(case, f"{prefix}_param_{n}", torch.stack(trajectory[n]))
        for n, p in params.items():
            state = opt.state[p]
            save(case, f"{prefix}_exp_avg_{n}", state["exp_avg"])
            save(case, f"{prefix}_exp_avg_sq_{n}", state["exp_avg_sq"])
            save(case, "step", state["step"].double().reshape(1))


class SpadeSchedule:
    """Pix2PixTrainer.update_learning_rate, on plain numbers."""

    def __init__(self, lr, niter, niter_decay, no_ttur=False):
        self.lr, self.niter, self.niter_decay, self.no_ttur = lr, niter, niter_decay, no_ttur
        self.old_lr = lr
        self.g = lr if no_ttur else lr / 2
        self.d = lr if no_ttur else lr * 2

    def update_learning_rate(self, epoch):
        if epoch > self.niter:
            lrd = self.lr / self.niter_decay
            new_lr = self.old_lr - lrd
        else:
            new_lr = self.old_lr
        if new_lr != self.old_lr:
            if self.no_ttur:
                self.g, self.d = new_lr, new_lr
            else:
                self.g, self.d = new_lr / 2, new_lr * 2
            self.old_lr = new_lr
            return True
        return False


def schedule(case, epochs):
    s = SpadeSchedule(2e-4, 3, 4)
    rows = {"epoch": [], "base": [], "g": [], "d": [], "changed": []}
    for e in epochs:
        changed = s.update_learning_rate(e)
        for key, v in [("epoch", e), ("base", s.old_lr), ("g", s.g), ("d", s.d), ("changed", float(changed))]:
            rows[key].append(v)
    for key, v in rows.items():
        save(case, key, torch.tensor(v, dtype=torch.float64))


def main():
    adam()
    schedule("adam_schedule_spade", range(1, 8))
    schedule("adam_schedule_end2end", range(0, 7))
    print("optimizer golden data written to", OUT)


if __name__ == "__main__":
    main()
