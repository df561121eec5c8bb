#!/usr/bin/python3
"""Golden data for the critic losses on the full progressive critic: the parameter
gradients of the whole WGAN-GP critic loss (ImprovedWGANLoss: mean D(fake) −
mean D(real) + λ·GP, λ = 10) and of the WGAN critic loss plus R1 (γ = 10), from
PyTorch's double backward, at two resolutions, with minibatch stddev off (the
official code) and on (ProGAN, group 4).

Real layouts are one-hot maps, fakes are straight-through-like one-hot maps of
other classes, as D_SB sees them. Cases: tests/golden/pgp_<res>_<mbstd>/.
Run: /usr/bin/python3 tools/golden/progressive_gp.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import save, zeros_if_none  # noqa: E402
from progan import Critic  # noqa: E402
from losses import gradient_penalty, input_gradient  # noqa: E402

CHANNELS = [8, 6, 4]  # per level, lowest resolution first: levels at 4x8, 8x16, 16x32
CLASSES, ASPECT, BATCH = 4, 2, 4


def one_hot(n, h, w):
    labels = torch.randint(0, CLASSES, (n, h, w))
    return F.one_hot(labels, CLASSES).permute(0, 3, 1, 2).double().contiguous()


def case(name, scale, alpha, group):
    critic = Critic(CHANNELS, CLASSES, 4, ASPECT, group, scale, alpha).double()
    with torch.no_grad():
        for p in critic.parameters():  # weights N(0,1) as stored; small random biases
            p.copy_(torch.randn(p.shape, dtype=torch.float32).double() * (1.0 if p.dim() > 1 else 0.1))
    params = dict(critic.named_parameters())
    h = 4 * 2 ** (scale - 1)
    real, fake = one_hot(BATCH, h, h * ASPECT), one_hot(BATCH, h, h * ASPECT)
    alpha_gp = torch.rand(BATCH, dtype=torch.float32).double()
    for n, p in params.items():
        save(name, "param_" + n, p)
    save(name, "real", real)
    save(name, "fake", fake)
    save(name, "alpha", alpha_gp)

    wgan = critic(fake).mean() - critic(real).mean()
    gp, _ = gradient_penalty(critic, real, fake, alpha_gp)
    loss = wgan + 10.0 * gp
    save(name, "gp_loss", loss.reshape(1))
    for (n, p), g in zip(params.items(), torch.autograd.grad(loss, list(params.values()), allow_unused=True)):
        save(name, "gp_grad_" + n, zeros_if_none(g, p))

    real_r = real.clone().requires_grad_(True)
    g = input_gradient(critic, real_r)
    r1 = 10.0 / 2 * g.pow(2).reshape(BATCH, -1).sum(1).mean()
    loss_r1 = critic(fake).mean() - critic(real).mean() + r1
    save(name, "r1_loss", loss_r1.reshape(1))
    for (n, p), g in zip(params.items(), torch.autograd.grad(loss_r1, list(params.values()), allow_unused=True)):
        save(name, "r1_grad_" + n, zeros_if_none(g, p))


if __name__ == "__main__":
    torch.manual_seed(3107)
    case("pgp_8x16_plain", 2, 1.0, 0)
    case("pgp_8x16_mbstd", 2, 1.0, 4)
    case("pgp_16x32_plain_fade", 3, 0.5, 0)
    case("pgp_16x32_mbstd_fade", 3, 0.5, 4)
    print("progressive critic loss golden data written")
