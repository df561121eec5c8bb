#!/usr/bin/python3
"""Golden data for SPADE normalization and the SPADE residual block, with modules
written after the reference (SPADE fork, models/networks/normalization.py and
architecture.py) with small widths: SyncBatchNorm on one device is BatchNorm2d,
and nhidden (128 in the reference) is a parameter here to keep the files small.

Cases (tests/golden/<case>/), one training-mode pass each:
  spade_norm_batch         SPADE over BatchNorm, layout resized 4x9 -> 6x6
  spade_norm_instance      SPADE over InstanceNorm, layout resized 12x12 -> 6x6
  spade_resblock_learned   SPADEResnetBlock 4 -> 3 (learned shortcut), layout 12x12 -> 6x6
  spade_resblock_identity  SPADEResnetBlock 4 -> 4, layout already 5x5
Files: x, seg, y, dy, dx, dseg, param_<name>, grad_<name>, init_<buffer> (the
buffers before the pass: spectral-norm u, v and fresh running statistics),
buffer_<buffer> (after it); the res-block cases also hold an evaluation pass after
the training one: eval_x, eval_seg, eval_y, eval_dy, eval_dx, eval_dseg.
Run:  /usr/bin/python3 tools/golden/spade.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_golden import save, f32, zeros_if_none  # noqa: E402

HIDDEN = 5


def f32_scaled(shape, scale):
    """A float32 normal draw times scale, rounded to float32, stored in float64."""
    return (torch.randn(*shape, dtype=torch.float32) * scale).double()


class SPADE(nn.Module):
    def __init__(self, norm, norm_nc, label_nc, nhidden=HIDDEN):
        super().__init__()
        self.param_free_norm = (nn.BatchNorm2d(norm_nc, affine=False) if norm == "batch"
                                else nn.InstanceNorm2d(norm_nc, affine=False))
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, nhidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(nhidden, norm_nc, 3, padding=1)
        self.mlp_beta = nn.Conv2d(nhidden, norm_nc, 3, padding=1)

    def forward(self, x, segmap):
        normalized = self.param_free_norm(x)
        segmap = F.interpolate(segmap, size=x.size()[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    """'spectralspadesyncbatch3x3': spectral norm on conv_0, conv_1, conv_s."""

    def __init__(self, fin, fout, label_nc):
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        sn = nn.utils.spectral_norm
        self.conv_0 = sn(nn.Conv2d(fin, fmiddle, 3, padding=1))
        self.conv_1 = sn(nn.Conv2d(fmiddle, fout, 3, padding=1))
        if self.learned_shortcut:
            self.conv_s = sn(nn.Conv2d(fin, fout, 1, bias=False))
        self.norm_0 = SPADE("batch", fin, label_nc)
        self.norm_1 = SPADE("batch", fmiddle, label_nc)
        if self.learned_shortcut:
            self.norm_s = SPADE("batch", fin, label_nc)

    def forward(self, x, seg):
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 2e-1))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 2e-1))
        return x_s + dx


def initialise(module):
    """Float32-representable parameters and spectral-norm vectors."""
    module.double()
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(f32_scaled(p.shape, 0.3 if name.endswith("bias") else 0.5))
        for name, b in module.named_buffers():
            if name.endswith("weight_u") or name.endswith("weight_v"):
                u = f32(b.numel())
                b.copy_((u / u.norm()).float().double())


def save_buffers(case, prefix, module):
    for name, b in module.named_buffers():
        save(case, prefix + name, b.double().reshape(-1))


def pass_through(case, module, x, seg, prefix=""):
    """One forward and backward; gradients of x, the layout and every parameter."""
    x = x.clone().requires_grad_(True)
    seg = seg.clone().requires_grad_(True)
    y = module(x, seg)
    dy = f32(*y.shape)
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(y, [x, seg] + list(params.values()), grad_outputs=dy, allow_unused=True)
    for n, t in dict(x=x, seg=seg, y=y, dy=dy, dx=grads[0], dseg=zeros_if_none(grads[1], seg)).items():
        save(case, prefix + n, t)
    return params, grads[2:]


def training_case(case, module, x_shape, seg_shape, with_eval=False):
    initialise(module)
    module.train()
    for name, p in module.named_parameters():
        save(case, "param_" + name, p)
    save_buffers(case, "init_", module)
    params, grads = pass_through(case, module, f32(*x_shape), f32(*seg_shape))
    for (name, p), g in zip(params.items(), grads):
        save(case, "grad_" + name, zeros_if_none(g, p))
    save_buffers(case, "buffer_", module)
    if with_eval:
        module.eval()
        pass_through(case, module, f32(*x_shape), f32(*seg_shape), prefix="eval_")


def main():
    torch.manual_seed(20261126)
    training_case("spade_norm_batch", SPADE("batch", 4, 3), (2, 4, 6, 6), (2, 3, 4, 9))
    training_case("spade_norm_instance", SPADE("instance", 4, 3), (2, 4, 6, 6), (2, 3, 12, 12))
    training_case("spade_resblock_learned", SPADEResnetBlock(4, 3, 3), (2, 4, 6, 6), (2, 3, 12, 12), with_eval=True)
    training_case("spade_resblock_identity", SPADEResnetBlock(4, 4, 3), (2, 4, 5, 5), (2, 3, 5, 5), with_eval=True)
    print("SPADE golden data written")


if __name__ == "__main__":
    main()
