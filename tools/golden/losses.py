#!/usr/bin/python3
"""Golden data for the GAN losses and gradient penalties (tests/test_losses.cpp).

Everything is computed by PyTorch in float64 from float32-representable inputs,
with the reference's own formulas:

loss_hinge:      SPADE's GANLoss(gan_mode='hinge') on two discriminator scales
                 (torch.min against a zero tensor, per-scale mean, summed and
                 divided by the number of scales). Ties d = +1 (real) and d = -1
                 (fake) are planted to pin torch.min's half gradient at a tie.
                 real_<i>, fake_<i>: predictions; d_real, d_fake, g: values;
                 d_real_grad_<i>, d_fake_grad_<i>, g_grad_<i>: gradients;
                 single_*: the same on scale 0 alone.
loss_wgan:       mean D(fake) - mean D(real) [+ 0.001 mean D(real)^2], -mean D(fake).
loss_feature_matching: SPADE's GAN_Feat_loss (lambda_feat 10, two scales, three
                 features and a prediction each; a few equal entries planted so
                 that L1Loss's sign(0) = 0 shows).
loss_wgan_gp:    SB-GAN's ImprovedWGANLoss on a small critic (Sequential of
                 Conv2d/LeakyReLU/AvgPool2d/Flatten/Linear) with the interpolation
                 weights alpha stored: the whole critic loss and its parameter
                 gradients through torch.autograd.grad(create_graph=True); the
                 penalty alone with its parameter gradients and its gradients
                 w.r.t. real and fake; the loss with a drift term 0.001.
loss_wgan_gp_zero: a critic whose input gradient is exactly zero (a zero linear
                 map): the penalty is lambda and PyTorch's norm backward gives 0.
loss_r1:         gamma/2 mean ||grad_x D(real)||^2 (gamma 10) alone (value,
                 parameter gradients, gradient w.r.t. real) and added to SPADE's
                 hinge D loss (parameter gradients of the sum).
Run:  /usr/bin/python3 tools/golden/losses.py [out_dir]
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from make_golden import OUT, Flatten, f32, save, zeros_if_none  # noqa: E402


class SpadeHinge:
    """SPADE's GANLoss for gan_mode='hinge' (models/networks/loss.py)."""

    @staticmethod
    def loss(d, target_is_real, for_discriminator):
        zero = torch.zeros(1, dtype=d.dtype).expand_as(d)
        if for_discriminator:
            minval = torch.min(d - 1, zero) if target_is_real else torch.min(-d - 1, zero)
            return -torch.mean(minval)
        return -torch.mean(d)

    def __call__(self, preds, target_is_real, for_discriminator=True):
        total = 0
        for p in preds:
            loss = self.loss(p, target_is_real, for_discriminator)
            total = total + torch.mean(loss.view(1, -1), dim=1)
        return total / len(preds)


def hinge():
    case = "loss_hinge"
    torch.manual_seed(101)
    shapes = [(2, 1, 5, 6), (2, 1, 3, 4)]
    real = [f32(*s) * 1.5 for s in shapes]
    fake = [f32(*s) * 1.5 for s in shapes]
    # Ties at the kinks: d = 1 for the real loss, d = -1 for the fake loss.
    real[0].view(-1)[[3, 17]] = 1.0
    real[1].view(-1)[5] = 1.0
    fake[0].view(-1)[[2, 40]] = -1.0
    fake[1].view(-1)[7] = -1.0
    real = [r.requires_grad_(True) for r in real]
    fake = [f.requires_grad_(True) for f in fake]
    crit = SpadeHinge()
    for i in range(len(shapes)):
        save(case, f"real_{i}", real[i])
        save(case, f"fake_{i}", fake[i])
    for name, preds, target, for_d in [("d_real", real, True, True), ("d_fake", fake, False, True),
                                       ("g", fake, True, False)]:
        value = crit(preds, target, for_d)
        grads = torch.autograd.grad(value.sum(), preds)
        save(case, name, value.reshape(1))
        for i, g in enumerate(grads):
            save(case, f"{name}_grad_{i}", g)
        single = crit([preds[0]], target, for_d)
        save(case, f"single_{name}", single.reshape(1))
        save(case, f"single_{name}_grad", torch.autograd.grad(single.sum(), preds[0])[0])


def wgan():
    case = "loss_wgan"
    torch.manual_seed(102)
    d_real = f32(5, 1).requires_grad_(True)
    d_fake = f32(5, 1).requires_grad_(True)
    save(case, "d_real", d_real)
    save(case, "d_fake", d_fake)
    critic = d_fake.mean() - d_real.mean()
    gr, gf = torch.autograd.grad(critic, [d_real, d_fake])
    save(case, "critic", critic.reshape(1))
    save(case, "critic_grad_real", gr)
    save(case, "critic_grad_fake", gf)
    drift = critic + 0.001 * (d_real ** 2).mean()
    gr, gf = torch.autograd.grad(drift, [d_real, d_fake])
    save(case, "drift", drift.reshape(1))
    save(case, "drift_grad_real", gr)
    save(case, "drift_grad_fake", gf)
    gen = -d_fake.mean()
    save(case, "generator", gen.reshape(1))
    save(case, "generator_grad", torch.autograd.grad(gen, d_fake)[0])


def feature_matching(lambda_feat=10.0):
    case = "loss_feature_matching"
    torch.manual_seed(103)
    shapes = [[(2, 4, 5, 5), (2, 6, 3, 3), (2, 3, 2, 2), (2, 1, 2, 2)],
              [(2, 4, 3, 3), (2, 6, 2, 2), (2, 3, 1, 1), (2, 1, 1, 1)]]
    fake = [[f32(*s).requires_grad_(True) for s in scale] for scale in shapes]
    real = [[f32(*s) for s in scale] for scale in shapes]
    with torch.no_grad():
        real[0][0].view(-1)[[0, 9]] = fake[0][0].view(-1)[[0, 9]]
        real[1][1].view(-1)[4] = fake[1][1].view(-1)[4]
    criterion = nn.L1Loss()
    num_d = len(fake)
    loss = torch.zeros(1, dtype=torch.float64)
    for i in range(num_d):
        for j in range(len(fake[i]) - 1):  # the last output is the prediction
            loss = loss + criterion(fake[i][j], real[i][j].detach()) * lambda_feat / num_d
    inputs = [t for scale in fake for t in scale]
    grads = torch.autograd.grad(loss.sum(), inputs, allow_unused=True)
    save(case, "loss", loss)
    k = 0
    for i in range(num_d):
        for j in range(len(fake[i])):
            save(case, f"fake_{i}_{j}", fake[i][j])
            save(case, f"real_{i}_{j}", real[i][j])
            save(case, f"grad_{i}_{j}", zeros_if_none(grads[k], fake[i][j]))
            k += 1


def small_critic():
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2),
        Flatten(), nn.Linear(8 * 2 * 2, 1)).double()


def set_parameters(case, module, scale):
    for name, p in module.named_parameters():
        with torch.no_grad():
            p.copy_(f32(*p.shape) * scale)
        save(case, "param_" + name, p)
    return dict(module.named_parameters())


def input_gradient(d, x):
    """grad_x sum D(x), kept in the graph (the reference's create_graph=True)."""
    out = d(x)
    return torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True, retain_graph=True)[0]


def gradient_penalty(d, real, fake, alpha):
    """ImprovedWGANLoss.gradient_penalty with the given alpha."""
    a = alpha[:, None, None, None]
    interpolates = a * real + (1 - a) * fake
    if not interpolates.requires_grad:
        interpolates.requires_grad_(True)
    g = input_gradient(d, interpolates)
    g = g.view(g.size(0), -1)
    return ((g.norm(2, dim=1) - 1) ** 2).mean(), g.norm(2, dim=1)


def save_grads(case, prefix, loss, params, extra=()):
    grads = torch.autograd.grad(loss, list(params.values()) + list(extra), allow_unused=True, retain_graph=True)
    for (name, p), g in zip(params.items(), grads):
        save(case, prefix + name, zeros_if_none(g, p))
    return grads[len(params):]


def wgan_gp(lam=10.0, drift=0.001):
    case = "loss_wgan_gp"
    torch.manual_seed(104)
    d = small_critic()
    params = set_parameters(case, d, 0.4)
    real = f32(3, 3, 8, 8)
    fake = f32(3, 3, 8, 8)
    alpha = torch.rand(3, dtype=torch.float32).double()
    for n, t in dict(real=real, fake=fake, alpha=alpha).items():
        save(case, n, t)

    # The whole critic loss, real and fake detached as in the reference.
    d_real, d_fake = d(real), d(fake)
    gp, norms = gradient_penalty(d, real, fake, alpha)
    loss = d_fake.mean() - d_real.mean() + lam * gp
    save(case, "loss", loss.reshape(1))
    save(case, "penalty", (lam * gp).reshape(1))
    save(case, "gradient_norms", norms)
    save_grads(case, "grad_", loss, params)
    save_grads(case, "gp_grad_", lam * gp, params)
    with_drift = loss + drift * (d_real ** 2).mean()
    save(case, "loss_drift", with_drift.reshape(1))
    save_grads(case, "drift_grad_", with_drift, params)

    # The penalty's gradient w.r.t. real and fake, when they are not detached.
    real_v, fake_v = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    gp_v, _ = gradient_penalty(d, real_v, fake_v, alpha)
    g_real, g_fake = torch.autograd.grad(lam * gp_v, [real_v, fake_v])
    save(case, "gp_grad_real", g_real)
    save(case, "gp_grad_fake", g_fake)

    # The generator's loss through the critic: -mean D(fake), its gradient w.r.t. fake.
    fake_g = fake.clone().requires_grad_(True)
    gen = -d(fake_g).mean()
    save(case, "generator", gen.reshape(1))
    save(case, "generator_grad", torch.autograd.grad(gen, fake_g)[0])


def wgan_gp_zero(lam=10.0):
    case = "loss_wgan_gp_zero"
    torch.manual_seed(105)
    d = nn.Sequential(Flatten(), nn.Linear(12, 1)).double()
    with torch.no_grad():
        d[1].weight.zero_()
        d[1].bias.copy_(f32(1))
    params = {n: p for n, p in d.named_parameters()}
    for n, p in params.items():
        save(case, "param_" + n, p)
    real, fake, alpha = f32(2, 3, 2, 2), f32(2, 3, 2, 2), torch.rand(2, dtype=torch.float32).double()
    for n, t in dict(real=real, fake=fake, alpha=alpha).items():
        save(case, n, t)
    gp, _ = gradient_penalty(d, real, fake, alpha)
    save(case, "penalty", (lam * gp).reshape(1))
    save_grads(case, "gp_grad_", lam * gp, params)


def r1(gamma=10.0):
    case = "loss_r1"
    torch.manual_seed(106)
    d = small_critic()
    params = set_parameters(case, d, 0.4)
    real = f32(3, 3, 8, 8).requires_grad_(True)
    fake = f32(3, 3, 8, 8)
    save(case, "real", real)
    save(case, "fake", fake)
    g = input_gradient(d, real)
    penalty = gamma / 2 * g.pow(2).reshape(g.shape[0], -1).sum(1).mean()
    save(case, "penalty", penalty.reshape(1))
    (g_real,) = save_grads(case, "r1_grad_", penalty, params, extra=[real])
    save(case, "r1_grad_real", g_real)
    hinge = SpadeHinge()
    loss = hinge([d(real)], True) + hinge([d(fake)], False) + penalty
    save(case, "loss", loss.reshape(1))
    save_grads(case, "grad_", loss.sum(), params)


def main():
    hinge()
    wgan()
    feature_matching()
    wgan_gp()
    wgan_gp_zero()
    r1()
    print("loss golden data written to", OUT)


if __name__ == "__main__":
    main()
