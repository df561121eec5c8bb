#!/usr/bin/python3
"""sbgan against PyTorch on the workloads of BENCHMARKS.md (W1-W9 and the ceilings).

Builds every workload in PyTorch from the same shapes (the modules below follow the
SPADE, ProGAN and SB-GAN reference code), runs sbgan's Google Benchmark and the
PyTorch version alternately for several rounds in one invocation -- each
measurement in a process of its own, so that its peak resident memory can be read
(os.wait4) -- and prints ONE table: workload, sbgan median, PyTorch median, ratio
(PyTorch time / sbgan time; above 1 means sbgan is faster), the rate each side
reaches (GFLOP/s, or GB/s for W7 and the copy, from the FLOP and byte counts sbgan's
benchmark reports), and the peak RSS of each process.

PyTorch runs at its best, as BENCHMARKS.md asks: torch.set_num_threads(2) (1 for
the 1-thread GEMM ceiling), OpenBLAS (libopenblas0-openmp) rather than the
reference BLAS, OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed from its environment
only, and, where OpenBLAS detects a generic core (a VM hiding the CPU model),
OPENBLAS_CORETYPE set to the best kernels the CPU's flags allow (SkylakeX for
AVX-512); forward-only workloads run under torch.no_grad(), discriminators
crossed by a generator loss have requires_grad off, and zero_grad sets gradients
to None.

Usage:
  /usr/bin/python3 bench/compare_torch.py --bench BUILD/bench/sbgan_bench
      [--rounds 3] [--seconds 1] [--filter REGEX] [--markdown FILE] [--save FILE.json]
      [--resume FILE.json]
The full table takes over an hour on two loaded cores: --save keeps every
measurement as it is taken, and --resume continues a run that was interrupted.
Internally the script also runs itself as the PyTorch child:
  compare_torch.py --torch-child WORKLOAD --seconds S

On a GPU (the section "GPU: --device cuda" at the end of this file):
  python3 bench/compare_torch.py --device cuda --bench BUILD/bench/sbgan_bench_cuda
      [--rounds 3] [--seconds 1] [--filter REGEX] [--markdown FILE]
runs CUDA_WORKLOADS (W1, W3, W7, W9) with sbgan's CUDA backend against the same
PyTorch modules with every tensor on "cuda", both sides synchronising the GPU after
each step, and prints the same kind of table with device memory in place of RSS.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

# Every workload, in table order: (name as in bench/, threads). The name is the
# Google Benchmark name without the "/real_time" suffix.
WORKLOADS = [
    ("ceiling/gemm_f32/n:4096/threads:1", 1),
    ("ceiling/gemm_f32/n:4096/threads:2", 2),
    ("ceiling/copy", 2),
    ("W1_conv3x3/fwd", 2),
    ("W1_conv3x3/bwd", 2),
    ("W2_spade_resblock/fwd", 2),
    ("W2_spade_resblock/fwd_bwd", 2),
    ("W3_spade_generator/infer", 2),
    ("W4_spade_generator/train", 2),
    ("W5_multiscale_discriminator/fwd_bwd", 2),
    ("W6_layout_generator/fwd", 2),
    ("W7_gumbel_st/fwd", 2),
    ("W7_gumbel_st/fwd_bwd", 2),
    ("W8_wgan_gp_critic_step", 2),
    ("W9_sbgan_iteration", 2),
]
THREADS = dict(WORKLOADS)

K = 35  # classes


# ====================================================================================
# PyTorch side (imported only in the child process)
# ====================================================================================

def torch_workloads():
    """name -> function building the workload and returning its step()."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.utils import spectral_norm

    def lrelu(x):
        return F.leaky_relu(x, 0.2)

    def one_hot(n, k, h, w):
        idx = torch.rand(n, k, h, w).argmax(dim=1, keepdim=True)
        return torch.zeros(n, k, h, w).scatter_(1, idx, 1.0)

    # ---- SPADE (SPADE's models/networks/normalization.py, architecture.py, generator.py)
    class SPADE(nn.Module):
        def __init__(self, norm_nc, label_nc, nhidden=128, ks=3):
            super().__init__()
            self.param_free_norm = nn.BatchNorm2d(norm_nc, affine=False)  # SyncBatchNorm on one device
            pw = ks // 2
            self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, nhidden, ks, padding=pw), nn.ReLU())
            self.mlp_gamma = nn.Conv2d(nhidden, norm_nc, ks, padding=pw)
            self.mlp_beta = nn.Conv2d(nhidden, norm_nc, ks, padding=pw)

        def forward(self, x, segmap):
            normalized = self.param_free_norm(x)
            segmap = F.interpolate(segmap, size=x.size()[2:], mode="nearest")
            actv = self.mlp_shared(segmap)
            return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)

    class SPADEResnetBlock(nn.Module):
        def __init__(self, fin, fout, label_nc, nhidden=128):
            super().__init__()
            self.learned_shortcut = fin != fout
            fmiddle = min(fin, fout)
            self.conv_0 = spectral_norm(nn.Conv2d(fin, fmiddle, 3, padding=1))
            self.conv_1 = spectral_norm(nn.Conv2d(fmiddle, fout, 3, padding=1))
            if self.learned_shortcut:
                self.conv_s = spectral_norm(nn.Conv2d(fin, fout, 1, bias=False))
            self.norm_0 = SPADE(fin, label_nc, nhidden)
            self.norm_1 = SPADE(fmiddle, label_nc, nhidden)
            if self.learned_shortcut:
                self.norm_s = SPADE(fin, label_nc, nhidden)

        def forward(self, x, seg):
            x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
            dx = self.conv_0(lrelu(self.norm_0(x, seg)))
            dx = self.conv_1(lrelu(self.norm_1(dx, seg)))
            return x_s + dx

    class SPADEGenerator(nn.Module):
        def __init__(self, label_nc, nf=64, height=256, width=512, upsamplings=5, nhidden=128):
            super().__init__()
            self.upsamplings = upsamplings
            self.sw = width // 2 ** upsamplings
            self.sh = round(self.sw / (width / height))
            self.fc = nn.Conv2d(label_nc, 16 * nf, 3, padding=1)
            self.head_0 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc, nhidden)
            self.G_middle_0 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc, nhidden)
            self.G_middle_1 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc, nhidden)
            self.up_0 = SPADEResnetBlock(16 * nf, 8 * nf, label_nc, nhidden)
            self.up_1 = SPADEResnetBlock(8 * nf, 4 * nf, label_nc, nhidden)
            self.up_2 = SPADEResnetBlock(4 * nf, 2 * nf, label_nc, nhidden)
            self.up_3 = SPADEResnetBlock(2 * nf, 1 * nf, label_nc, nhidden)
            self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, seg):
            seg = seg.detach()  # the SB-GAN fork hands every block seg.detach()
            x = self.fc(F.interpolate(seg, size=(self.sh, self.sw)))
            x = self.head_0(x, seg)
            x = self.up(x)
            x = self.G_middle_0(x, seg)
            if self.upsamplings == 6:
                x = self.up(x)
            x = self.G_middle_1(x, seg)
            for block in (self.up_0, self.up_1, self.up_2, self.up_3):
                x = block(self.up(x), seg)
            return torch.tanh(self.conv_img(lrelu(x)))

    # Forward with a layout gradient through fc only (the fork detaches the blocks'
    # layout); used by W9's fake-from-fake path.
    class SPADEGeneratorLayoutGrad(SPADEGenerator):
        def forward(self, seg):
            x = self.fc(F.interpolate(seg, size=(self.sh, self.sw)))
            seg = seg.detach()
            x = self.head_0(x, seg)
            x = self.up(x)
            x = self.G_middle_0(x, seg)
            if self.upsamplings == 6:
                x = self.up(x)
            x = self.G_middle_1(x, seg)
            for block in (self.up_0, self.up_1, self.up_2, self.up_3):
                x = block(self.up(x), seg)
            return torch.tanh(self.conv_img(lrelu(x)))

    # ---- SPADE's discriminators ('spectralinstance')
    class NLayerDiscriminator(nn.Module):
        def __init__(self, input_nc, ndf=64, n_layers=4, last_inner_stride_one=True):
            super().__init__()
            kw, padw = 4, int(math.ceil((4 - 1.0) / 2))
            nf = ndf
            seq = [[nn.Conv2d(input_nc, nf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, False)]]
            for n in range(1, n_layers):
                nf_prev, nf = nf, min(nf * 2, 512)
                stride = 1 if (last_inner_stride_one and n == n_layers - 1) else 2
                conv = spectral_norm(nn.Conv2d(nf_prev, nf, kw, stride=stride, padding=padw, bias=False))
                seq += [[nn.Sequential(conv, nn.InstanceNorm2d(nf, affine=False)), nn.LeakyReLU(0.2, False)]]
            seq += [[nn.Conv2d(nf, 1, kw, stride=1, padding=padw)]]
            for n, s in enumerate(seq):
                self.add_module("model" + str(n), nn.Sequential(*s))

        def forward(self, x):
            results = [x]
            for sub in self.children():
                results.append(sub(results[-1]))
            return results[1:]  # every stage's output (get_intermediate_features)

    class MultiscaleDiscriminator(nn.Module):
        def __init__(self, input_nc, num_D=2, **kw):
            super().__init__()
            for i in range(num_D):
                self.add_module("discriminator_%d" % i, NLayerDiscriminator(input_nc, **kw))

        def forward(self, x):
            result = []
            for D in self.children():
                result.append(D(x))
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=[1, 1], count_include_pad=False)
            return result

    # ---- ProGAN blocks as SB-GAN's progressive layout GAN (equalized LR, pixel norm)
    class EqConv2d(nn.Module):
        def __init__(self, cin, cout, k, stride=1, padding=0, gain=math.sqrt(2)):
            super().__init__()
            kh, kw = (k, k) if isinstance(k, int) else k
            self.weight = nn.Parameter(torch.randn(cout, cin, kh, kw))
            self.bias = nn.Parameter(torch.zeros(cout))
            self.scale = gain / math.sqrt(cin * kh * kw)
            self.stride, self.padding = stride, padding

        def forward(self, x):
            return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)

    class EqLinear(nn.Module):
        def __init__(self, fin, fout, gain=math.sqrt(2)):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(fout, fin))
            self.bias = nn.Parameter(torch.zeros(fout))
            self.scale = gain / math.sqrt(fin)

        def forward(self, x):
            return F.linear(x, self.weight * self.scale, self.bias)

    def pixel_norm(x):  # the official code's form: x / (mean x² + ε), no root
        return x / (x.pow(2).mean(dim=1, keepdim=True) + 1e-8)

    def minibatch_stddev(x, group=4):
        n, c, h, w = x.shape
        g = min(group, n)
        y = x.view(g, -1, c, h, w)
        y = y - y.mean(dim=0, keepdim=True)
        y = (y.pow(2).mean(dim=0) + 1e-8).sqrt()
        y = y.mean(dim=[1, 2, 3]).view(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], 1)

    def progan_channels(max_resolution):
        out, r, i = [], 4, 0
        while r <= max_resolution:
            out.append(min(512, 2 ** (12 - i)))
            r, i = r * 2, i + 1
        return out

    class ProGANGenerator(nn.Module):  # every level active, no fade
        def __init__(self, latent, channels, classes, h0=4, aspect=2):
            super().__init__()
            self.c0, self.h0, self.w0 = channels[0], h0, aspect * h0
            self.fc1 = EqLinear(latent, channels[0] * self.h0 * self.w0, gain=math.sqrt(2) / 4)
            self.conv2 = EqConv2d(channels[0], channels[0], 3, padding=1)
            self.blocks = nn.ModuleList(
                nn.ModuleList([EqConv2d(channels[i - 1], channels[i], 3, padding=1),
                               EqConv2d(channels[i], channels[i], 3, padding=1)]) for i in range(1, len(channels)))
            self.to_mask = nn.ModuleList(EqConv2d(c, classes, 1, gain=1.0) for c in channels)

        def forward(self, z):
            x = self.fc1(pixel_norm(z)).view(z.shape[0], self.c0, self.h0, self.w0)
            x = pixel_norm(lrelu(x))
            x = pixel_norm(lrelu(self.conv2(x)))
            for conv1, conv2 in self.blocks:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
                x = pixel_norm(lrelu(conv1(x)))
                x = pixel_norm(lrelu(conv2(x)))
            return F.softmax(self.to_mask[-1](x), dim=1)

    class ProGANCritic(nn.Module):  # every level active, no fade
        def __init__(self, classes, channels, h0=4, aspect=2, minibatch_group=0):
            super().__init__()
            top = len(channels) - 1
            self.minibatch_group = minibatch_group
            self.from_mask = nn.ModuleList(EqConv2d(classes, c, 1, gain=1.0) for c in reversed(channels))
            self.blocks = nn.ModuleList(
                nn.ModuleList([EqConv2d(channels[l], channels[l], 3, padding=1),
                               EqConv2d(channels[l], channels[l - 1], 3, padding=1)]) for l in range(top, 0, -1))
            c0 = channels[0]
            self.conv1 = EqConv2d(c0 + (1 if minibatch_group else 0), c0, 3, stride=(1, aspect), padding=1)
            self.conv2 = EqConv2d(c0, c0, h0)
            self.fc3 = EqLinear(c0, 1, gain=math.sqrt(2))

        def forward(self, x):
            x = lrelu(self.from_mask[0](x))
            for conv1, conv2 in self.blocks:
                x = F.avg_pool2d(lrelu(conv2(lrelu(conv1(x)))), 2)
            if self.minibatch_group:
                x = minibatch_stddev(x, self.minibatch_group)
            x = lrelu(self.conv2(lrelu(self.conv1(x))))
            return self.fc3(x.flatten(1))

    def gumbel_st(p, eps=1e-5):
        return F.gumbel_softmax(torch.log(p + eps), tau=1.0, hard=True, dim=1)

    # SB-GAN's ImprovedWGANLoss, critic side: mean D(fake) − mean D(real) + λ·GP
    def wgan_gp_critic_loss(D, real, fake, lam=10.0):
        d_real, d_fake = D(real), D(fake)
        n = real.shape[0]
        alpha = torch.rand(n, 1, 1, 1)
        x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        gp = lam * ((g.view(n, -1).norm(2, dim=1) - 1) ** 2).mean()
        return d_fake.mean() - d_real.mean() + gp

    def adam(module, lr, beta2):
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.0, beta2), eps=1e-8)

    def requires_grad(module, flag):
        for p in module.parameters():
            p.requires_grad_(flag)

    def no_grad_step(f):
        def step():
            with torch.no_grad():
                f()
        return step

    # ---- the workloads
    def gemm(threads):
        def build():
            torch.set_num_threads(threads)
            a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
            c = torch.empty(4096, 4096)
            return lambda: torch.mm(a, b, out=c)
        return build

    def copy():
        src, dst = torch.ones(64 << 20), torch.zeros(64 << 20)
        return lambda: dst.copy_(src)

    def w1_fwd():
        conv = nn.Conv2d(256, 256, 3, padding=1, bias=False)
        x = torch.randn(1, 256, 64, 128)
        return no_grad_step(lambda: conv(x))

    def w1_bwd():
        conv = nn.Conv2d(256, 256, 3, padding=1, bias=False)
        x = torch.randn(1, 256, 64, 128, requires_grad=True)
        y = conv(x)
        dy = torch.randn_like(y)
        return lambda: torch.autograd.grad(y, [x, conv.weight], dy, retain_graph=True)

    def w2(backward):
        def build():
            block = SPADEResnetBlock(512, 256, K).train()
            x = torch.randn(1, 512, 64, 128, requires_grad=backward)
            seg = one_hot(1, K, 64, 128)
            if not backward:
                return no_grad_step(lambda: block(x, seg))
            dy = torch.randn(1, 256, 64, 128)
            return lambda: block(x, seg).backward(dy)
        return build

    def w3():
        g = SPADEGenerator(K, 64, 256, 512, upsamplings=5).eval()
        seg = one_hot(1, K, 256, 512)
        return no_grad_step(lambda: g(seg))

    def w4():
        g = SPADEGenerator(K, 64, 256, 512, upsamplings=5).train()
        seg = one_hot(1, K, 256, 512)
        dy = torch.randn(1, 3, 256, 512)
        return lambda: g(seg).backward(dy)

    def w5():
        d = MultiscaleDiscriminator(K + 3, 2, ndf=64, n_layers=4, last_inner_stride_one=True).train()
        x = torch.cat([one_hot(1, K, 256, 512), torch.rand(1, 3, 256, 512) * 2 - 1], 1).requires_grad_(True)
        with torch.no_grad():
            dys = [torch.randn_like(scale[-1]) for scale in d(x)]

        def step():
            out = d(x)
            torch.autograd.backward([scale[-1] for scale in out], dys)  # parameter and input gradients
        return step

    def w6():
        g = ProGANGenerator(512, progan_channels(256), K)
        z = torch.randn(1, 512)
        return no_grad_step(lambda: gumbel_st(g(z)))

    def w7(backward):
        def build():
            p = F.softmax(torch.randn(8, K, 256, 512), dim=1)
            if not backward:
                return no_grad_step(lambda: gumbel_st(p))
            p.requires_grad_(True)
            dy = torch.randn(8, K, 256, 512)
            return lambda: torch.autograd.grad(gumbel_st(p), p, dy)
        return build

    def w8():
        d = ProGANCritic(K, progan_channels(128), minibatch_group=4)
        opt = adam(d, 1e-3, 0.99)
        real, fake = one_hot(4, K, 128, 256), one_hot(4, K, 128, 256)

        def step():
            wgan_gp_critic_loss(d, real, fake).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return step

    def w9():
        # The Cityscapes reference scaled to 128×256 (see bench/bench_sbgan.cpp).
        n, h, w = 1, 128, 256
        lam_pgan, lam_gp, lam_d2, lam_feat = 10.0, 10.0, 0.1, 10.0
        channels = progan_channels(128)
        g_sb = ProGANGenerator(512, channels, K)
        d_sb = ProGANCritic(K, channels, minibatch_group=0)
        g = SPADEGeneratorLayoutGrad(K, 64, h, w, upsamplings=6).train()
        d_spade = MultiscaleDiscriminator(K + 3, 2, ndf=64, n_layers=3, last_inner_stride_one=False).train()
        d2 = MultiscaleDiscriminator(3, 2, ndf=64, n_layers=3, last_inner_stride_one=False).train()
        opt_g_sb, opt_d_sb = adam(g_sb, 1e-5, 0.99), adam(d_sb, 1e-5, 0.99)
        opt_g, opt_d = adam(g, 1e-4, 0.9), adam(d_spade, 4e-4, 0.9)
        opt_d2 = adam(d2, 2e-4, 0.99)
        layouts = one_hot(n, K, h, w)
        real = torch.rand(n, 3, h, w) * 2 - 1

        def hinge_g(preds):  # SPADE's GANLoss(hinge), generator side, averaged over scales
            return sum(-p.mean() for p in preds) / len(preds)

        def hinge_d(fake_preds, real_preds):
            f = sum(F.relu(1 + p).mean() for p in fake_preds) / len(fake_preds)
            r = sum(F.relu(1 - p).mean() for p in real_preds) / len(real_preds)
            return f + r

        def feature_matching(fake_feats, real_feats):
            loss = 0
            for fs, rs in zip(fake_feats, real_feats):
                for f, r in zip(fs[:-1], rs[:-1]):
                    loss = loss + F.l1_loss(f, r.detach()) * lam_feat / len(fake_feats)
            return loss

        def step():
            # G step: G_SB and SPADE-G; the discriminators only pass gradients.
            for d in (d_sb, d_spade, d2):
                requires_grad(d, False)
            layout = gumbel_st(g_sb(torch.randn(n, 512)))
            loss = -lam_pgan * d_sb(layout).mean()
            out = d2(torch.cat([g(layout), real]))
            loss = loss + lam_d2 * hinge_g([s[-1][:n] for s in out])
            fake = g(layouts)
            out = d_spade(torch.cat([torch.cat([layouts, fake], 1), torch.cat([layouts, real], 1)]))
            fake_feats = [[f[:n] for f in s] for s in out]
            real_feats = [[f[n:] for f in s] for s in out]
            loss = loss + hinge_g([s[-1] for s in fake_feats]) + feature_matching(fake_feats, real_feats)
            loss.backward()
            opt_g_sb.step()
            opt_g.step()
            opt_g_sb.zero_grad(set_to_none=True)
            opt_g.zero_grad(set_to_none=True)
            for d in (d_sb, d_spade, d2):
                requires_grad(d, True)
            # D step: D_SB (WGAN-GP), D_SPADE and D2 (hinge) on detached fakes.
            with torch.no_grad():
                layout = gumbel_st(g_sb(torch.randn(n, 512)))
                fake = g(layouts)
                fake2 = g(layout)
            loss = lam_pgan * wgan_gp_critic_loss(d_sb, layouts, layout, lam_gp)
            out = d_spade(torch.cat([torch.cat([layouts, fake], 1), torch.cat([layouts, real], 1)]))
            loss = loss + hinge_d([s[-1][:n] for s in out], [s[-1][n:] for s in out])
            out = d2(torch.cat([fake2, real]))
            loss = loss + lam_d2 * hinge_d([s[-1][:n] for s in out], [s[-1][n:] for s in out])
            loss.backward()
            for opt in (opt_d_sb, opt_d2, opt_d):
                opt.step()
                opt.zero_grad(set_to_none=True)
        return step

    return {
        "ceiling/gemm_f32/n:4096/threads:1": gemm(1),
        "ceiling/gemm_f32/n:4096/threads:2": gemm(2),
        "ceiling/copy": copy,
        "W1_conv3x3/fwd": w1_fwd,
        "W1_conv3x3/bwd": w1_bwd,
        "W2_spade_resblock/fwd": w2(False),
        "W2_spade_resblock/fwd_bwd": w2(True),
        "W3_spade_generator/infer": w3,
        "W4_spade_generator/train": w4,
        "W5_multiscale_discriminator/fwd_bwd": w5,
        "W6_layout_generator/fwd": w6,
        "W7_gumbel_st/fwd": w7(False),
        "W7_gumbel_st/fwd_bwd": w7(True),
        "W8_wgan_gp_critic_step": w8,
        "W9_sbgan_iteration": w9,
    }


def torch_child(name, seconds):
    """Runs one PyTorch workload as Google Benchmark runs one of ours: setup and a
    warm-up step untimed, then steps until `seconds` have passed (at least one);
    prints the mean time per step."""
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(THREADS[name])
    step = torch_workloads()[name]()
    step()  # warm-up
    iters, start = 0, time.perf_counter()
    while True:
        step()
        iters += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    print(json.dumps({"seconds": elapsed / iters, "iterations": iters}))


# ====================================================================================
# Parent: alternate both sides, one process per measurement
# ====================================================================================

def run_measured(cmd, env):
    """Runs cmd; returns (stdout, peak RSS in MiB) -- the RSS of that process alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError("command failed (exit %d): %s\n%s" % (proc.returncode, " ".join(cmd),
                                                                      err.read().decode()[-2000:]))
        return out.read().decode(), usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


# OpenBLAS picks its kernels from the CPU model. In a VM that hides the model
# ("Intel(R) Xeon(R) Processor") it falls back to Prescott, SSE3 kernels: a 4096^3
# GEMM then runs at 27 instead of ~150 GFLOP/s on one thread. At its best means the
# kernels the CPU's instruction set allows, so a generic detection is overridden.
GENERIC_OPENBLAS_CORES = {"prescott", "katmai", "coppermine", "northwood", "core2", "penryn", "dunnington",
                          "nehalem", "atom", "unknown"}


def openblas_detected_core(env):
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=dict(env, OPENBLAS_VERBOSE="2"),
                           capture_output=True, text=True)
    m = re.search(r"Core:\s*(\S+)", probe.stdout + probe.stderr)
    return m.group(1) if m else None


def best_openblas_core():
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((l for l in f if l.startswith("flags")), "").split())
    except OSError:
        return None
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SKYLAKEX"
    if {"avx2", "fma"} <= flags:
        return "HASWELL"
    return None


OPENBLAS_CORE = {}  # what torch_env decided, once per run: {"detected": ..., "forced": ...}


def torch_env(threads):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)  # set machine-wide, they force OpenBLAS onto AVX2 kernels
    env.pop("OPENBLAS_L2_SIZE", None)
    if not OPENBLAS_CORE:
        detected = openblas_detected_core(env)
        best = best_openblas_core()
        forced = best if best and (detected or "unknown").lower() in GENERIC_OPENBLAS_CORES else None
        OPENBLAS_CORE.update(detected=detected, forced=forced)
        print("OpenBLAS core: detected %s%s" % (detected, ", forced %s" % forced if forced else ""),
              file=sys.stderr, flush=True)
    if OPENBLAS_CORE["forced"]:
        env["OPENBLAS_CORETYPE"] = OPENBLAS_CORE["forced"]
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def sbgan_env(threads):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_torch(name, seconds):
    out, rss = run_measured(["/usr/bin/python3", os.path.abspath(__file__), "--torch-child", name,
                             "--seconds", "%g" % seconds], torch_env(THREADS[name]))
    return json.loads(out.strip().splitlines()[-1])["seconds"], rss


def run_sbgan(bench, name, seconds):
    out, rss = run_measured([bench, "--benchmark_filter=^" + re.escape(name) + "(/real_time)?$",
                             "--benchmark_format=json", "--benchmark_min_time=%g" % seconds],
                            sbgan_env(THREADS[name]))
    runs = json.loads(out)["benchmarks"]
    if not runs:
        raise RuntimeError("sbgan benchmark %s not found in %s" % (name, bench))
    r = runs[0]
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[r["time_unit"]]
    if "GFLOP" in r:
        work = (r["GFLOP"], "GFLOP/s")
    elif "GB" in r:
        work = (r["GB"], "GB/s")
    else:
        work = (None, "")
    return r["real_time"] * scale, rss, work


def ms(seconds):
    """A time in milliseconds, or "failed" for none."""
    return "%.2f" % (seconds * 1e3) if seconds is not None else "failed"


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", help="path to the sbgan_bench executable")
    ap.add_argument("--rounds", type=int, default=3, help="measurements of each side per workload")
    ap.add_argument("--seconds", type=float, default=1.0, help="minimum timed seconds per measurement")
    ap.add_argument("--filter", default="", help="only workloads matching this regular expression")
    ap.add_argument("--markdown", help="also write the table to this file (rewritten after every round)")
    ap.add_argument("--save", help="write every measurement to this JSON file as soon as it is taken")
    ap.add_argument("--resume", help="continue the run saved in this JSON file: measurements it holds are "
                                     "not repeated (the table then notes that it spans invocations)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cpu: sbgan_bench against PyTorch on the CPU; cuda: sbgan_bench_cuda against PyTorch "
                         "on the GPU (the GPU workloads only)")
    ap.add_argument("--torch-child", help=argparse.SUPPRESS)
    ap.add_argument("--torch-cuda-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_child:
        torch_child(args.torch_child, args.seconds)
        return
    if args.torch_cuda_child:
        torch_cuda_child(args.torch_cuda_child, args.seconds)
        return
    if args.device == "cuda":
        if not args.bench:
            ap.error("--bench (the sbgan_bench_cuda executable) is required")
        main_cuda(args)
        return
    if not args.bench:
        ap.error("--bench is required")

    names = [n for n, _ in WORKLOADS if re.search(args.filter, n)]
    state = {"records": [], "work": {}, "invocations": 0, "loads": []}
    if args.resume:
        with open(args.resume) as f:
            state = json.load(f)
    state["invocations"] += 1
    state["loads"].append(load())
    done = {(r["name"], r["round"], r["side"]) for r in state["records"]}
    failed = False

    def save():
        if args.save:
            with open(args.save + ".tmp", "w") as f:
                json.dump(state, f, indent=1)
            os.replace(args.save + ".tmp", args.save)

    for rnd in range(args.rounds):
        for name in names:
            # Alternate the order too, so a drift in machine load hits both sides alike.
            for side in (("sbgan", "torch") if rnd % 2 == 0 else ("torch", "sbgan")):
                if (name, rnd, side) in done:
                    continue
                try:
                    if side == "sbgan":
                        t, rss, work = run_sbgan(args.bench, name, args.seconds)
                        state["work"][name] = work
                    else:
                        t, rss = run_torch(name, args.seconds)
                except RuntimeError as e:  # report it, keep measuring the rest
                    print(e, file=sys.stderr, flush=True)
                    failed = True
                    continue
                state["records"].append({"name": name, "round": rnd, "side": side, "seconds": t, "rss_mib": rss,
                                         "load": load()})
                save()
            times = {r["side"]: r["seconds"] for r in state["records"] if r["name"] == name and r["round"] == rnd}
            print("round %d/%d  %-38s sbgan %10s ms  torch %10s ms  (load %s)" %
                  (rnd + 1, args.rounds, name, ms(times.get("sbgan")), ms(times.get("torch")), load()),
                  file=sys.stderr, flush=True)
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(make_table(state, names, args.rounds))
    state["loads"].append(load())
    save()
    table = make_table(state, names, args.rounds)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    print(table, flush=True)
    if failed:
        sys.exit(1)


def make_table(state, names, rounds):
    lines = ["| workload | sbgan median (ms) | PyTorch median (ms) | ratio (PyTorch / sbgan) | sbgan rate | "
             "PyTorch rate | sbgan peak RSS (MiB) | PyTorch peak RSS (MiB) | load (1-min avg) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        recs = [r for r in state["records"] if r["name"] == name]
        ours = [r["seconds"] for r in recs if r["side"] == "sbgan"]
        theirs = [r["seconds"] for r in recs if r["side"] == "torch"]
        if not ours or not theirs:
            lines.append("| %s | %s | %s | - | - | - | - | - | - |" %
                         (name, ms(ours[-1] if ours else None), ms(theirs[-1] if theirs else None)))
            continue
        a, b = statistics.median(ours), statistics.median(theirs)
        amount, unit = state["work"].get(name, (None, ""))
        rate_a = "%.1f %s" % (amount / a, unit) if amount else "-"
        rate_b = "%.1f %s" % (amount / b, unit) if amount else "-"
        rss_a = max(r["rss_mib"] for r in recs if r["side"] == "sbgan")
        rss_b = max(r["rss_mib"] for r in recs if r["side"] == "torch")
        loads = [float(r["load"].split()[0]) for r in recs]
        lines.append("| %s | %.2f | %.2f | %.2f | %s | %s | %.0f | %.0f | %.1f-%.1f |" %
                     (name, a * 1e3, b * 1e3, b / a, rate_a, rate_b, rss_a, rss_b, min(loads), max(loads)))
    counts = sorted({sum(1 for r in state["records"] if r["name"] == n) // 2 for n in names})
    footer = ("%s of %d rounds per workload, medians; each measurement in its own process (peak RSS: the "
              "largest over its rounds); load average (1, 5, 15 min) at start and end: %s"
              % ("/".join(map(str, counts)), rounds, "; ".join(state["loads"])))
    if state["invocations"] > 1:
        footer += "; the run spans %d invocations (--resume)" % state["invocations"]
    if OPENBLAS_CORE:
        footer += "; PyTorch's OpenBLAS core: detected %s%s" % (
            OPENBLAS_CORE["detected"], ", forced %s" % OPENBLAS_CORE["forced"] if OPENBLAS_CORE["forced"] else "")
    return "\n".join(lines) + "\n\n" + footer + "\n"


# ====================================================================================
# GPU: --device cuda
# ====================================================================================
# The GPU workloads of sbgan_bench_cuda (bench/bench_cuda.cu), under the CPU names.
# PyTorch builds them with torch_workloads() as above, but with "cuda" as the default
# device, so every module and tensor lives on the GPU. Like for like, in float32:
# cuDNN autotuning on (sbgan measures its algorithms too), TF32 off for convolutions
# and matrix products (sbgan's cuDNN convolutions use FMA math, no TF32). Both sides
# synchronise the GPU after each step; memory is the device memory each side's
# caching allocator holds at its peak (PyTorch: max_memory_reserved; sbgan: its
# allocator's live plus cached bytes, the "device MiB" counter).
CUDA_WORKLOADS = [
    "W1_conv3x3/fwd",
    "W1_conv3x3/bwd",
    "W3_spade_generator/infer",
    "W7_gumbel_st/fwd",
    "W7_gumbel_st/fwd_bwd",
    "W9_sbgan_iteration",
]


def torch_cuda_child(name, seconds):
    """One PyTorch workload on the GPU, timed as sbgan_bench_cuda times its own."""
    import torch
    if not torch.cuda.is_available():
        raise SystemExit("compare_torch.py: PyTorch sees no CUDA GPU (torch.cuda.is_available() is false)")
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_default_device("cuda")
    step = torch_workloads()[name]()
    step()  # warm-up (and cuDNN's autotuning)
    torch.cuda.synchronize()
    iters, start = 0, time.perf_counter()
    while True:
        step()
        torch.cuda.synchronize()
        iters += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    print(json.dumps({"seconds": elapsed / iters, "iterations": iters,
                      "device_mib": torch.cuda.max_memory_reserved() / 2.0 ** 20}))


def run_torch_cuda(name, seconds):
    # The interpreter running this script: the one whose torch sees the GPU.
    out, _ = run_measured([sys.executable, os.path.abspath(__file__), "--torch-cuda-child", name,
                           "--seconds", "%g" % seconds], dict(os.environ))
    r = json.loads(out.strip().splitlines()[-1])
    return r["seconds"], r["device_mib"]


def run_sbgan_cuda(bench, name, seconds):
    out, _ = run_measured([bench, "--benchmark_filter=^" + re.escape(name) + "(/real_time)?$",
                           "--benchmark_format=json", "--benchmark_min_time=%g" % seconds], dict(os.environ))
    runs = json.loads(out)["benchmarks"]
    if not runs:
        raise RuntimeError("sbgan benchmark %s not found in %s" % (name, bench))
    r = runs[0]
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[r["time_unit"]]
    if "GFLOP" in r:
        work = (r["GFLOP"], "GFLOP/s")
    elif "GB" in r:
        work = (r["GB"], "GB/s")
    else:
        work = (None, "")
    return r["real_time"] * scale, r.get("device MiB"), work


def gpu_name():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown GPU"


def main_cuda(args):
    """Both sides on the GPU, alternately, one process per measurement; the table last."""
    names = [n for n in CUDA_WORKLOADS if re.search(args.filter, n)]
    records, work, failed = [], {}, False
    for rnd in range(args.rounds):
        for name in names:
            for side in (("sbgan", "torch") if rnd % 2 == 0 else ("torch", "sbgan")):
                try:
                    if side == "sbgan":
                        t, mib, work[name] = run_sbgan_cuda(args.bench, name, args.seconds)
                    else:
                        t, mib = run_torch_cuda(name, args.seconds)
                except RuntimeError as e:  # report it, keep measuring the rest
                    print(e, file=sys.stderr, flush=True)
                    failed = True
                    continue
                records.append({"name": name, "side": side, "seconds": t, "device_mib": mib})
            times = {r["side"]: r["seconds"] for r in records[-2:] if r["name"] == name}
            print("round %d/%d  %-28s sbgan %10s ms  torch %10s ms" %
                  (rnd + 1, args.rounds, name, ms(times.get("sbgan")), ms(times.get("torch"))),
                  file=sys.stderr, flush=True)
    table = make_cuda_table(records, work, names, args.rounds)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    print(table, flush=True)
    if failed:
        sys.exit(1)


def make_cuda_table(records, work, names, rounds):
    def mib(v):
        return "%.0f" % v if v is not None else "-"
    lines = ["| workload (GPU) | sbgan median (ms) | PyTorch median (ms) | ratio (PyTorch / sbgan) | sbgan rate | "
             "PyTorch rate | sbgan device MiB | PyTorch device MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        ours = [r for r in records if r["name"] == name and r["side"] == "sbgan"]
        theirs = [r for r in records if r["name"] == name and r["side"] == "torch"]
        if not ours or not theirs:
            lines.append("| %s | %s | %s | - | - | - | - | - |" %
                         (name, ms(ours[-1]["seconds"] if ours else None),
                          ms(theirs[-1]["seconds"] if theirs else None)))
            continue
        a = statistics.median(r["seconds"] for r in ours)
        b = statistics.median(r["seconds"] for r in theirs)
        amount, unit = work.get(name, (None, ""))
        rate_a = "%.1f %s" % (amount / a, unit) if amount else "-"
        rate_b = "%.1f %s" % (amount / b, unit) if amount else "-"
        mib_a = max((r["device_mib"] for r in ours if r["device_mib"] is not None), default=None)
        mib_b = max((r["device_mib"] for r in theirs if r["device_mib"] is not None), default=None)
        lines.append("| %s | %.3f | %.3f | %.2f | %s | %s | %s | %s |" %
                     (name, a * 1e3, b * 1e3, b / a, rate_a, rate_b, mib(mib_a), mib(mib_b)))
    footer = ("%d rounds per workload, medians; GPU: %s; float32, TF32 off on both sides, cuDNN autotuned on both; "
              "each measurement in its own process" % (rounds, gpu_name()))
    return "\n".join(lines) + "\n\n" + footer + "\n"


if __name__ == "__main__":
    main()
