#!/usr/bin/python3
"""Writes the golden data the C++ tests compare against: small .npy files made by
PyTorch (Debian's python3-torch), one folder per case under tests/golden/.

Inputs and weights are drawn in float32 and stored as float64, so the C++ float
and double runs both start from exactly the reference's inputs; every reference
result is computed by PyTorch in float64.

Per case:  x, y, dy, dx, param_<name>, grad_<name>            (first order)
           w, so_dx, so_dgy, so_grad_<name>                   (second order:
           the gradients of Q = <dL/dx, w> with dL/dx = J^T dy, taken with
           torch.autograd.grad(..., create_graph=True))
Run:  /usr/bin/python3 tools/golden/make_golden.py [out_dir]
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "golden")


def f32(*shape):
    """A float32 draw, returned in float64 (exactly representable in float32)."""
    return torch.randn(*shape, dtype=torch.float32).double()


def save(case, name, t):
    d = os.path.join(OUT, case)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, name + ".npy"), t.detach().double().contiguous().numpy())


def zeros_if_none(g, like):
    return torch.zeros_like(like) if g is None else g


def first_and_second_order(case, module, x_shape, second_order=True):
    """Forward, backward and second-order gradients of `module` (float64)."""
    module = module.double()
    for p in module.parameters():
        with torch.no_grad():
            p.copy_(f32(*p.shape))
    params = dict(module.named_parameters())
    x = f32(*x_shape).requires_grad_(True)
    y = module(x)
    dy = f32(*y.shape).requires_grad_(True)
    grads = torch.autograd.grad(y, [x] + list(params.values()), grad_outputs=dy, create_graph=second_order,
                                allow_unused=True)
    dx = grads[0]
    save(case, "x", x)
    save(case, "y", y)
    save(case, "dy", dy)
    save(case, "dx", dx)
    for (name, p), g in zip(params.items(), grads[1:]):
        save(case, "param_" + name, p)
        save(case, "grad_" + name, zeros_if_none(g, p))
    if not second_order:
        return
    w = f32(*x_shape)
    q = (dx * w).sum()
    inputs = [x, dy] + list(params.values())
    so = torch.autograd.grad(q, inputs, allow_unused=True) if q.requires_grad else [None] * len(inputs)
    save(case, "w", w)
    save(case, "so_dx", zeros_if_none(so[0], x))
    save(case, "so_dgy", zeros_if_none(so[1], dy))
    for (name, p), g in zip(params.items(), so[2:]):
        save(case, "so_grad_" + name, zeros_if_none(g, p))


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Flatten(nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1)


def critic():
    """A small critic in the shape of SB-GAN's progressive critic."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2),
        nn.Conv2d(6, 6, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        nn.Conv2d(6, 4, 2), nn.Tanh(), Flatten(), nn.Linear(4, 1))


def wgan_gp(case, lam=10.0):
    """The exact WGAN-GP penalty through the critic: gradients of
    lam * mean_n (||grad_x D(x_n)|| - 1)^2 with respect to every parameter and x."""
    torch.manual_seed(1234)
    d = critic().double()
    for p in d.parameters():
        with torch.no_grad():
            p.copy_(f32(*p.shape) * 0.5)
    x = f32(3, 3, 8, 8).requires_grad_(True)
    out = d(x)
    g = torch.autograd.grad(out.sum(), x, create_graph=True)[0]
    norms = g.reshape(g.shape[0], -1).norm(2, dim=1)
    penalty = lam * ((norms - 1) ** 2).mean()
    params = dict(d.named_parameters())
    grads = torch.autograd.grad(penalty, [x] + list(params.values()), allow_unused=True)
    save(case, "x", x)
    save(case, "penalty", penalty.reshape(1))
    save(case, "dx", grads[0])
    for (name, p), gr in zip(params.items(), grads[1:]):
        save(case, "param_" + name, p)
        save(case, "grad_" + name, zeros_if_none(gr, p))


def kernels():
    x = f32(2, 5, 3, 4).requires_grad_(True)
    y = torch.softmax(x, dim=1)
    dy = f32(*y.shape)
    dx = torch.autograd.grad(y, x, dy)[0]
    for n, t in dict(x=x, y=y, dy=dy, dx=dx).items():
        save("softmax_channels", n, t)
    for case, shape, size in [("resize_up_5x7", (2, 3, 3, 4), (5, 7)), ("resize_down_3x4", (2, 3, 7, 9), (3, 4)),
                              ("resize_odd_13x6", (1, 2, 4, 5), (13, 6))]:
        x = f32(*shape).requires_grad_(True)
        y = F.interpolate(x, size=size, mode="nearest")
        dy = f32(*y.shape)
        dx = torch.autograd.grad(y, x, dy)[0]
        for n, t in dict(x=x, y=y, dy=dy, dx=dx).items():
            save(case, n, t)
    x = f32(3, 4, 5, 6) * 3 + 1
    save("moments", "x", x)
    save("moments", "channel_mean", x.mean(dim=(0, 2, 3)))
    save("moments", "channel_var", x.var(dim=(0, 2, 3), unbiased=False))
    save("moments", "instance_mean", x.mean(dim=(2, 3)))
    save("moments", "instance_var", x.var(dim=(2, 3), unbiased=False))


def main():
    torch.manual_seed(20261124)
    cases = [
        ("conv2d_k3_s1_p1", nn.Conv2d(3, 4, 3, stride=1, padding=1), (2, 3, 7, 6)),
        ("conv2d_k4_s2_p1_nobias", nn.Conv2d(3, 5, 4, stride=2, padding=1, bias=False), (2, 3, 8, 9)),
        ("conv2d_k1", nn.Conv2d(6, 3, 1), (2, 6, 5, 5)),
        ("conv2d_k3_s2_p0", nn.Conv2d(2, 3, 3, stride=2), (1, 2, 9, 7)),
        ("linear", nn.Linear(12, 5), (3, 12)),
        ("linear_flatten", nn.Sequential(Flatten(), nn.Linear(12, 4)), (2, 3, 2, 2)),
        ("leaky_relu", nn.LeakyReLU(0.2), (2, 3, 5, 4)),
        ("relu", nn.ReLU(), (2, 3, 5, 4)),
        ("tanh", nn.Tanh(), (2, 3, 5, 4)),
        ("nearest_upsample", nn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 4, 5)),
        ("avg_pool_2x2", nn.AvgPool2d(2), (2, 3, 6, 8)),
        ("avg_pool_3x3_s2_p1", nn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 7, 9)),
        ("critic", critic(), (2, 3, 8, 8)),
    ]
    for name, module, shape in cases:
        first_and_second_order(name, module, shape)
    wgan_gp("wgan_gp_critic")
    kernels()
    print("golden data written to", OUT)


if __name__ == "__main__":
    main()
