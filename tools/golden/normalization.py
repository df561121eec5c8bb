#!/usr/bin/python3
"""Golden data for the normalization layers: InstanceNorm2d and BatchNorm2d without
affine parameters, and torch.nn.utils.spectral_norm over Conv2d and Linear.

Cases (tests/golden/<case>/):
  norm_instance        InstanceNorm2d: first and second order
  norm_batch_train     BatchNorm2d in training mode, after one earlier batch
                       (x_prev): first and second order, then the running
                       statistics and num_batches_tracked after both batches
  norm_batch_eval      BatchNorm2d in evaluation with given running statistics
  norm_sn_conv         spectral_norm(Conv2d) over three training steps with an SGD
  norm_sn_linear       update in between (u evolves), then one evaluation pass;
                       per step: x, y, dx, grads, second order, u and v after it
Inputs, weights and the initial u, v are float32 values stored in float64; the
reference computes in float64.
Run:  /usr/bin/python3 tools/golden/normalization.py
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from make_golden import save, f32, first_and_second_order, zeros_if_none  # noqa: E402

SGD_LR = 0.1
SN_STEPS = 3


def unit_f32(n):
    """A normalized normal draw rounded to float32, so float and double runs share it."""
    u = f32(n)
    return (u / u.norm()).float().double()


def batch_norm_cases():
    bn = nn.BatchNorm2d(3, affine=False).double()
    x_prev = f32(4, 3, 3, 2) * 2 + 1
    with torch.no_grad():
        bn(x_prev)
    save("norm_batch_train", "x_prev", x_prev)
    first_and_second_order("norm_batch_train", bn, (2, 3, 4, 5))
    save("norm_batch_train", "running_mean", bn.running_mean)
    save("norm_batch_train", "running_var", bn.running_var)
    save("norm_batch_train", "num_batches_tracked", bn.num_batches_tracked.double().reshape(1))

    bn = nn.BatchNorm2d(3, affine=False).double().eval()
    with torch.no_grad():
        bn.running_mean.copy_(f32(3))
        bn.running_var.copy_((f32(3).abs() + 0.5).float().double())
    save("norm_batch_eval", "running_mean", bn.running_mean)
    save("norm_batch_eval", "running_var", bn.running_var)
    first_and_second_order("norm_batch_eval", bn, (2, 3, 4, 5))


def spectral_steps(case, module, x_shape):
    """Training steps of spectral_norm(module) with SGD between them, then evaluation."""
    module = nn.utils.spectral_norm(module).double()
    with torch.no_grad():
        module.weight_orig.copy_(f32(*module.weight_orig.shape))
        module.bias.copy_(f32(*module.bias.shape) * 0.5)
        module.weight_u.copy_(unit_f32(module.weight_u.numel()))
        module.weight_v.copy_(unit_f32(module.weight_v.numel()))
    params = {"weight_orig": module.weight_orig, "bias": module.bias}
    for name, p in params.items():
        save(case, "param_" + name, p)
    save(case, "u_init", module.weight_u)
    save(case, "v_init", module.weight_v)

    module.train()
    for step in range(SN_STEPS):
        pre = "step%d_" % step
        x = f32(*x_shape).requires_grad_(True)
        y = module(x)
        dy = f32(*y.shape).requires_grad_(True)
        grads = torch.autograd.grad(y, [x] + list(params.values()), grad_outputs=dy, create_graph=True)
        w = f32(*x_shape)
        q = (grads[0] * w).sum()
        so = torch.autograd.grad(q, [x, dy] + list(params.values()), allow_unused=True)
        for n, t in dict(x=x, y=y, dy=dy, dx=grads[0], w=w, so_dx=zeros_if_none(so[0], x), so_dgy=so[1],
                         u=module.weight_u, v=module.weight_v).items():
            save(case, pre + n, t)
        for (name, p), g, s in zip(params.items(), grads[1:], so[2:]):
            save(case, pre + "grad_" + name, g)
            save(case, pre + "so_grad_" + name, zeros_if_none(s, p))
        with torch.no_grad():
            for p, g in zip(params.values(), grads[1:]):
                p -= SGD_LR * g

    module.eval()
    x = f32(*x_shape).requires_grad_(True)
    y = module(x)
    dy = f32(*y.shape)
    grads = torch.autograd.grad(y, [x] + list(params.values()), grad_outputs=dy)
    for n, t in dict(x=x, y=y, dy=dy, dx=grads[0], u=module.weight_u, v=module.weight_v).items():
        save(case, "eval_" + n, t)
    for name, g in zip(params, grads[1:]):
        save(case, "eval_grad_" + name, g)


def main():
    torch.manual_seed(20261125)
    first_and_second_order("norm_instance", nn.InstanceNorm2d(3), (2, 3, 5, 4))
    batch_norm_cases()
    spectral_steps("norm_sn_conv", nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5))
    spectral_steps("norm_sn_linear", nn.Linear(6, 5), (3, 6))
    print("normalization golden data written")


if __name__ == "__main__":
    main()
