#!/usr/bin/python3
"""Golden data for the SPADE generator (reference section 6.2, SPADE fork
models/networks/generator.py without the VAE), built from the SPADE residual block
of tools/golden/spade.py (batch-norm SPADE, spectral norm, small nhidden) with
nf = 1 and K = 3.

Parameters are not stored: both sides compute them from (parameter index in
parameter_names.txt, element index) with an integer hash, exactly representable in
float32 (see hashed_value). The spectral-norm vectors and fresh batch-norm
statistics are stored (init_<buffer>).

Case folder tests/golden/model_spade_generator/:
  parameter_names.txt, buffer_names.txt, state_dict_keys.txt   the reference's names
  init_buffers                                                 every buffer before a pass,
                                                               flattened and concatenated
                                                               in buffer_names.txt order
  more_*    'more' upsampling, 64x128 output (start 1x2), N = 1, detached layout as
            in the SB-GAN fork. The layout is seg_small (16x32) and the output
            gradient dy_small (16x32), each nearest-upsampled x4 (smaller files).
            The layout gradient is non-zero only on the pixels fc's downsample
            reads (rows ::64, columns ::64): dseg_sampled holds those, and this
            script checks that the rest is zero.
  normal_*  'normal' upsampling, 32x32 output (start 1x1), N = 2, layout NOT
            detached (the gradient reaches the layout through every SPADE norm):
            seg, dseg in full.
  Each: y, dy, grad_<name> for a few parameters (GRADS), buffers (as init_buffers,
  after the pass).
Run:  /usr/bin/python3 tools/golden/spade_generator.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_golden import OUT, save, f32  # noqa: E402
from spade import SPADEResnetBlock  # noqa: E402

CASE = "model_spade_generator"
NF = 1
K = 3
GRADS = ["fc.weight", "fc.bias", "head_0.conv_0.weight_orig", "head_0.norm_0.mlp_shared.0.weight",
         "G_middle_1.conv_1.weight_orig", "up_0.conv_s.weight_orig", "up_3.norm_1.mlp_gamma.weight",
         "conv_img.weight", "conv_img.bias"]


class SPADEGenerator(nn.Module):
    def __init__(self, label_nc, nf, upsampling, height, width, detach):
        super().__init__()
        self.upsampling = upsampling
        self.detach = detach
        ups = 6 if upsampling == "more" else 5
        self.sw = width // 2 ** ups
        self.sh = round(self.sw / (width / height))
        self.fc = nn.Conv2d(label_nc, 16 * nf, 3, padding=1)
        self.head_0 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc)
        self.G_middle_0 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc)
        self.G_middle_1 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc)
        self.up_0 = SPADEResnetBlock(16 * nf, 8 * nf, label_nc)
        self.up_1 = SPADEResnetBlock(8 * nf, 4 * nf, label_nc)
        self.up_2 = SPADEResnetBlock(4 * nf, 2 * nf, label_nc)
        self.up_3 = SPADEResnetBlock(2 * nf, 1 * nf, label_nc)
        self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, seg):
        x = F.interpolate(seg, size=(self.sh, self.sw))
        x = self.fc(x)
        s = seg.detach() if self.detach else seg  # the SB-GAN fork's seg.detach()
        x = self.head_0(x, s)
        x = self.up(x)
        x = self.G_middle_0(x, s)
        if self.upsampling == "more":
            x = self.up(x)
        x = self.G_middle_1(x, s)
        for block in (self.up_0, self.up_1, self.up_2, self.up_3):
            x = block(self.up(x), s)
        x = self.conv_img(F.leaky_relu(x, 2e-1))
        return torch.tanh(x)


def hashed_value(p, j):
    """Parameter p's element j: ((j+1)*2654435761 + (p+1)*97531) mod 2^16, mapped to
    [-0.5, 0.5) in steps of 2^-16 (exact in float32); the C++ test computes the same."""
    u = ((j + 1) * 2654435761 + (p + 1) * 97531) % 65536
    return u / 65536.0 - 0.5


def hashed_parameters(module):
    with torch.no_grad():
        for p_index, (name, p) in enumerate(module.named_parameters()):
            values = np.array([hashed_value(p_index, j) for j in range(p.numel())], dtype=np.float64)
            scale = 0.5 if name.endswith("bias") else 1.0
            p.copy_(torch.from_numpy(values * scale).reshape(p.shape))


def write_names(module):
    d = os.path.join(OUT, CASE)
    os.makedirs(d, exist_ok=True)
    for file, names in (("parameter_names.txt", [n for n, _ in module.named_parameters()]),
                        ("buffer_names.txt", [n for n, _ in module.named_buffers()]),
                        ("state_dict_keys.txt", list(module.state_dict().keys()))):
        with open(os.path.join(d, file), "w") as f:
            f.write("\n".join(names) + "\n")


def fresh(upsampling, height, width, detach, buffers=None):
    g = SPADEGenerator(K, NF, upsampling, height, width, detach).double()
    hashed_parameters(g)
    with torch.no_grad():
        if buffers is None:
            for name, b in g.named_buffers():
                if name.endswith("weight_u") or name.endswith("weight_v"):
                    u = f32(b.numel())
                    b.copy_((u / u.norm()).float().double())
        else:
            for name, b in g.named_buffers():
                b.copy_(buffers[name])
    g.train()
    return g


def flat_buffers(module):
    return torch.cat([b.double().reshape(-1) for _, b in module.named_buffers()])


def run(prefix, g, seg, dy_upsampling=1):
    seg = seg.clone().requires_grad_(True)
    y = g(seg)
    n, c, h, w = y.shape
    dy_small = f32(n, c, h // dy_upsampling, w // dy_upsampling)
    dy = F.interpolate(dy_small, scale_factor=dy_upsampling) if dy_upsampling > 1 else dy_small
    params = dict(g.named_parameters())
    grads = torch.autograd.grad(y, [seg] + [params[n] for n in GRADS], grad_outputs=dy)
    save(CASE, prefix + "y", y)
    save(CASE, prefix + ("dy_small" if dy_upsampling > 1 else "dy"), dy_small)
    for n, gr in zip(GRADS, grads[1:]):
        save(CASE, prefix + "grad_" + n, gr)
    save(CASE, prefix + "buffers", flat_buffers(g))
    return grads[0]


def main():
    torch.manual_seed(20261124)
    more = fresh("more", 64, 128, detach=True)
    write_names(more)
    init = {name: b.clone() for name, b in more.named_buffers()}
    save(CASE, "init_buffers", flat_buffers(more))

    seg_small = f32(1, K, 16, 32)
    save(CASE, "more_seg_small", seg_small)
    dseg = run("more_", more, F.interpolate(seg_small, scale_factor=4), dy_upsampling=4)
    sampled = dseg[:, :, ::64, ::64]
    rest = dseg.clone()
    rest[:, :, ::64, ::64] = 0
    assert rest.abs().max().item() == 0.0 and sampled.abs().max().item() > 0
    save(CASE, "more_dseg_sampled", sampled)

    normal = fresh("normal", 32, 32, detach=False, buffers=init)
    seg = f32(2, K, 32, 32)
    save(CASE, "normal_seg", seg)
    save(CASE, "normal_dseg", run("normal_", normal, seg))
    print("SPADE generator golden data written")


if __name__ == "__main__":
    main()
