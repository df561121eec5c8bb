#!/usr/bin/python3
"""Golden data for the ProGAN primitives and blocks (tests/test_progan.cpp).

PyTorch modules that mirror SB-GAN's official ProGAN code (models/progressive.py
and modules/ of the official repository, described in the reference notes §3-§4):
the same arithmetic and the same module names, so the state-dict keys are the
names the C++ layers give their parameters. Written for these tests, with tiny
sizes. The minibatch-stddev layer (absent from the official code) follows ProGAN.

Cases (folders tests/golden/progan_<case>/), in the format of make_golden.py:
x, y, dy, dx, param_<name>, grad_<name>, and for critic-side modules
w, so_dx, so_dgy, so_grad_<name>.
Run:  /usr/bin/python3 tools/golden/progan.py [out_dir]
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_golden import first_and_second_order  # noqa: E402


class EqualizedConv2d(nn.Module):
    """Weight stored N(0,1), multiplied by gain/sqrt(fan_in) when used; bias 0, unscaled."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0, gain=math.sqrt(2)):
        super().__init__()
        kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.weight = nn.Parameter(torch.randn(cout, cin, *kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.stride, self.padding = stride, padding
        self.scale = gain / math.sqrt(cin * kernel[0] * kernel[1])

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualizedLinear(nn.Module):
    def __init__(self, fin, fout, gain=math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fout, fin))
        self.bias = nn.Parameter(torch.zeros(fout))
        self.scale = gain / math.sqrt(fin)

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """official: x / (mean_c x^2 + eps) (SB-GAN's code); paper: x * rsqrt(mean_c x^2 + eps)."""

    def __init__(self, form, eps=1e-8):
        super().__init__()
        self.form, self.eps = form, eps

    def forward(self, x):
        r = x.pow(2).mean(dim=1, keepdim=True) + self.eps
        return x / r if self.form == "official" else x * torch.rsqrt(r)


class MinibatchStddev(nn.Module):
    """ProGAN's layer: groups as its reshape [G, M, C, H, W] forms them."""

    def __init__(self, group):
        super().__init__()
        self.group = group

    def forward(self, x):
        n, c, h, w = x.shape
        g = min(self.group, n)
        m = n // g
        y = x.reshape(g, m, c, h, w)
        y = y - y.mean(dim=0, keepdim=True)
        y = torch.sqrt(y.pow(2).mean(dim=0) + 1e-8)       # [M, C, H, W]
        y = y.mean(dim=(1, 2, 3))                          # [M]
        y = y.reshape(1, m, 1, 1, 1).expand(g, m, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, y], dim=1)


def lrelu(x):
    return F.leaky_relu(x, 0.2)


class GeneratorBlock(nn.Module):
    def __init__(self, cin, cout, classes, form, initial=False, h0=4, w0=4):
        super().__init__()
        self.initial, self.h0, self.w0 = initial, h0, w0
        self.norm = PixelNorm(form)
        if initial:
            self.fc1 = EqualizedLinear(cin, cout * h0 * w0, gain=math.sqrt(2) / 4)
        else:
            self.conv1 = EqualizedConv2d(cin, cout, 3, padding=1)
        self.conv2 = EqualizedConv2d(cout, cout, 3, padding=1)
        self.to_mask = EqualizedConv2d(cout, classes, 1, gain=1)

    def forward(self, x):
        if self.initial:
            x = self.fc1(self.norm(x)).view(x.shape[0], -1, self.h0, self.w0)
        else:
            x = self.conv1(F.interpolate(x, scale_factor=2, mode="nearest"))
        x = self.norm(lrelu(x))
        return self.norm(lrelu(self.conv2(x)))

    def mask(self, x, double=False):
        if double:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return torch.softmax(self.to_mask(x), dim=1)


class Generator(nn.Module):
    """Blocks 0..scale-1, then the last one's head; with alpha < 1, the fade-in blend."""

    def __init__(self, latent, channels, classes, form, h0, aspect, scale, alpha):
        super().__init__()
        ins = [latent] + channels[:-1]
        self.blocks = nn.ModuleList(
            GeneratorBlock(ins[i], channels[i], classes, form, initial=i == 0, h0=h0, w0=aspect * h0)
            for i in range(len(channels)))
        self.scale, self.alpha = scale, alpha

    def forward(self, z):
        x = z
        for i in range(self.scale - 1):
            x = self.blocks[i](x)
        fine = self.blocks[self.scale - 1](x)
        out = self.blocks[self.scale - 1].mask(fine)
        if self.alpha < 1:
            coarse = self.blocks[self.scale - 2].mask(x, double=True)
            out = (1 - self.alpha) * coarse + self.alpha * out
        return out


class CriticBlock(nn.Module):
    def __init__(self, cin, cout, classes, final=False, aspect=1, h0=4, group=0):
        super().__init__()
        self.final = final
        self.from_mask = EqualizedConv2d(classes, cin, 1, gain=1)
        if final:
            self.stddev = MinibatchStddev(group) if group else None
            self.conv1 = EqualizedConv2d(cin + (1 if group else 0), cin, 3, stride=(1, aspect), padding=1)
            self.conv2 = EqualizedConv2d(cin, cout, h0)
            self.fc3 = EqualizedLinear(cout, 1)
        else:
            self.conv1 = EqualizedConv2d(cin, cin, 3, padding=1)
            self.conv2 = EqualizedConv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        if self.final and self.stddev is not None:
            x = self.stddev(x)
        x = lrelu(self.conv1(x))
        x = lrelu(self.conv2(x))
        if self.final:
            return self.fc3(x.reshape(x.shape[0], -1))
        return F.avg_pool2d(x, 2)

    def mask(self, x, half=False):
        if half:
            x = F.avg_pool2d(x, 2)
        return lrelu(self.from_mask(x))


class Critic(nn.Module):
    """Blocks listed from the highest resolution; the layout enters block S - scale."""

    def __init__(self, channels, classes, h0, aspect, group, scale, alpha):
        super().__init__()
        levels = len(channels)
        blocks = []
        for j in range(levels):
            level = levels - 1 - j
            if level == 0:
                blocks.append(CriticBlock(channels[0], channels[0], classes, final=True, aspect=aspect, h0=h0,
                                          group=group))
            else:
                blocks.append(CriticBlock(channels[level], channels[level - 1], classes))
        self.blocks = nn.ModuleList(blocks)
        self.scale, self.alpha = scale, alpha

    def forward(self, x):
        j = len(self.blocks) - self.scale
        h = self.blocks[j](self.blocks[j].mask(x))
        if self.alpha < 1:
            coarse = self.blocks[j + 1].mask(x, half=True)
            h = (1 - self.alpha) * coarse + self.alpha * h
        for k in range(j + 1, len(self.blocks)):
            h = self.blocks[k](h)
        return h


class Softmax2d(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=1)


def main():
    torch.manual_seed(20261125)
    cases = [
        # name, module, input shape, second order
        ("eq_conv_k3", EqualizedConv2d(3, 4, 3, padding=1), (2, 3, 5, 6), True),
        ("eq_conv_k3_stride_1x2", EqualizedConv2d(4, 3, 3, stride=(1, 2), padding=1, gain=1), (2, 4, 4, 8), True),
        ("eq_conv_k4_valid", EqualizedConv2d(3, 2, 4), (2, 3, 4, 4), True),
        ("eq_linear", EqualizedLinear(6, 5, gain=math.sqrt(2) / 4), (3, 6), True),
        ("pixel_norm_official", PixelNorm("official"), (2, 5, 3, 4), False),
        ("pixel_norm_paper", PixelNorm("paper"), (2, 5, 3, 4), False),
        ("pixel_norm_official_latent", PixelNorm("official"), (3, 7), False),
        ("mbstd_g2", MinibatchStddev(2), (4, 3, 3, 2), True),
        ("mbstd_g4_n3", MinibatchStddev(4), (3, 2, 2, 3), True),
        ("channel_softmax", Softmax2d(), (2, 4, 3, 3), True),
        # The layout generator: latent 4, channels [5, 4, 3], K = 4, h0 = 4.
        ("generator_8x16_fade", Generator(4, [5, 4, 3], 4, "official", 4, 2, scale=2, alpha=0.3), (2, 4), False),
        ("generator_16x16_fade", Generator(4, [5, 4, 3], 4, "official", 4, 1, scale=3, alpha=0.65), (2, 4), False),
        ("generator_16x16_paper", Generator(4, [5, 4, 3], 4, "paper", 4, 1, scale=3, alpha=1.0), (2, 4), False),
        # The critic: channels [5, 4, 3] by level, K = 3, h0 = 4. With groups of 2, some
        # feature's two samples nearly coincide (s = 2.5e-4): the second-order data are
        # ill-conditioned in float32 there, PyTorch's own float32 run included.
        ("critic_8x8", Critic([5, 4, 3], 3, 4, 1, 0, scale=2, alpha=1.0), (2, 3, 8, 8), True),
        ("critic_8x16_mbstd_fade", Critic([5, 4, 3], 3, 4, 2, 2, scale=2, alpha=0.35), (4, 3, 8, 16), True),
        ("critic_16x16_mbstd", Critic([5, 4, 3], 3, 4, 1, 4, scale=3, alpha=1.0), (2, 3, 16, 16), True),
        ("critic_16x16_fade", Critic([5, 4, 3], 3, 4, 1, 0, scale=3, alpha=0.6), (2, 3, 16, 16), True),
    ]
    for name, module, shape, second in cases:
        first_and_second_order("progan_" + name, module, shape, second_order=second)
    print("ProGAN golden data written")


if __name__ == "__main__":
    main()
