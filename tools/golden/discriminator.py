#!/usr/bin/python3
"""Golden data for the patch and multiscale discriminators (SPADE's
NLayerDiscriminator / MultiscaleDiscriminator as the SB-GAN fork builds them:
norm_D='spectralinstance'), in float64 from float32-representable inputs.

Cases (tests/golden/disc_*):
  disc_multiscale_official  2 scales, 3 layers (fork): features, input and
                            parameter gradients for gradients on every feature,
                            spectral-norm buffers after the training forward
  disc_patch_paper          1 scale, 4 layers (paper/upstream form): the same,
                            plus the second-order gradients of <dD/dx, w>
Run: /usr/bin/python3 tools/golden/discriminator.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import f32, save, zeros_if_none  # noqa: E402


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf, n_layers, last_inner_stride_one):
        super().__init__()
        kw, padw = 4, 2
        nf = ndf
        sequence = [[nn.Conv2d(input_nc, nf, kw, 2, padw), nn.LeakyReLU(0.2, False)]]
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stride = 1 if (last_inner_stride_one and n == n_layers - 1) else 2
            conv = spectral_norm(nn.Conv2d(nf_prev, nf, kw, stride, padw, bias=False))
            sequence += [[nn.Sequential(conv, nn.InstanceNorm2d(nf, affine=False)), nn.LeakyReLU(0.2, False)]]
        sequence += [[nn.Conv2d(nf, 1, kw, 1, padw)]]
        for n in range(len(sequence)):
            self.add_module("model" + str(n), nn.Sequential(*sequence[n]))

    def forward(self, x):
        results = [x]
        for sub in self.children():
            results.append(sub(results[-1]))
        return results[1:]


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, num_d, **kw):
        super().__init__()
        for i in range(num_d):
            self.add_module("discriminator_%d" % i, NLayerDiscriminator(**kw))

    def forward(self, x):
        out = []
        for d in self.children():
            out.append(d(x))
            x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        return out


def randomize(module):
    with torch.no_grad():
        for _, p in module.named_parameters():
            p.copy_(f32(*p.shape) * 0.3)
        for name, b in module.named_buffers():
            if name.endswith("weight_u") or name.endswith("weight_v"):
                b.copy_(F.normalize(f32(*b.shape), dim=0))


def save_state(case, module, prefix):
    for name, p in module.named_parameters():
        save(case, prefix + name, p)
    for name, b in module.named_buffers():
        save(case, prefix + name, b)


def multiscale_case(case):
    d = MultiscaleDiscriminator(2, input_nc=4, ndf=4, n_layers=3, last_inner_stride_one=False).double()
    randomize(d)
    save_state(case, d, "before_")  # parameters and u, v before the training forward
    x = f32(2, 4, 20, 18).requires_grad_(True)
    outs = d(x)  # training mode: one power iteration per spectral-norm conv
    save(case, "x", x)
    feats, grads = [], []
    for i, scale in enumerate(outs):
        for j, f in enumerate(scale):
            save(case, "feature_%d_%d" % (i, j), f)
            g = f32(*f.shape)
            save(case, "dfeature_%d_%d" % (i, j), g)
            feats.append(f)
            grads.append(g)
    params = dict(d.named_parameters())
    result = torch.autograd.grad(feats, [x] + list(params.values()), grads, allow_unused=True)
    save(case, "dx", result[0])
    for (name, p), g in zip(params.items(), result[1:]):
        save(case, "grad_" + name, zeros_if_none(g, p))
    for name, b in d.named_buffers():
        save(case, "after_" + name, b)


def patch_case(case):
    d = NLayerDiscriminator(input_nc=3, ndf=2, n_layers=4, last_inner_stride_one=True).double()
    randomize(d)
    save_state(case, d, "before_")
    x = f32(2, 3, 12, 14).requires_grad_(True)
    feats = d(x)
    pred = feats[-1]
    save(case, "x", x)
    save(case, "y", pred)
    for j, f in enumerate(feats):
        save(case, "feature_0_%d" % j, f)
    dy = f32(*pred.shape).requires_grad_(True)
    params = dict(d.named_parameters())
    grads = torch.autograd.grad(pred, [x] + list(params.values()), dy, create_graph=True, allow_unused=True)
    save(case, "dy", dy)
    save(case, "dx", grads[0])
    for (name, p), g in zip(params.items(), grads[1:]):
        save(case, "grad_" + name, zeros_if_none(g, p))
    w = f32(*x.shape)
    q = (grads[0] * w).sum()
    so = torch.autograd.grad(q, [x, dy] + list(params.values()), allow_unused=True)
    save(case, "w", w)
    save(case, "so_dx", zeros_if_none(so[0], x))
    save(case, "so_dgy", zeros_if_none(so[1], dy))
    for (name, p), g in zip(params.items(), so[2:]):
        save(case, "so_grad_" + name, zeros_if_none(g, p))
    for name, b in d.named_buffers():
        save(case, "after_" + name, b)


if __name__ == "__main__":
    torch.manual_seed(616)
    multiscale_case("disc_multiscale_official")
    patch_case("disc_patch_paper")
    print("discriminator golden data written")
