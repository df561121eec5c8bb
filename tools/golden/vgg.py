#!/usr/bin/python3
"""Golden data for MaxPool2d and the VGG19 perceptual loss (tests/test_vgg.cpp).

vgg_max_pool_*:  MaxPool2d, first and second order (make_golden's format).
vgg_loss:        a tiny VGG19 (torchvision's topology, channels / 32, built in plain
                 PyTorch) is saved as a .pth state dict and converted with
                 tools/convert_vgg19.py into vgg19.safetensors, which the C++ test
                 loads. The loss is SPADE's VGGLoss over SPADE's VGG19 slices,
                 computed in float64:  x, y, feature_<i> (relu1_1 ... relu5_1 of x),
                 loss, dx (the gradient w.r.t. x; y is detached).
Run:  /usr/bin/python3 tools/golden/vgg.py [out_dir]
"""
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from make_golden import OUT, first_and_second_order, save  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIVISOR = 32

# torchvision.models.vgg cfgs["E"]
VGG19_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                512, 512, 512, 512, "M"]


class TinyVGG19(nn.Module):
    """torchvision's VGG19 `features` with every channel count divided: the same
    module indices, so the state dict has torchvision's keys (features.N.*)."""

    def __init__(self, divisor):
        super().__init__()
        layers, channels = [], 3
        for v in VGG19_CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, v // divisor, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = v // divisor
        self.features = nn.Sequential(*layers)


class VGG19Slices(nn.Module):
    """SPADE's models/networks/architecture.py VGG19, on a given `features`."""

    def __init__(self, features):
        super().__init__()
        self.slices = nn.ModuleList()
        for begin, end in [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)]:
            s = nn.Sequential()
            for i in range(begin, end):
                s.add_module(str(i), features[i])
            self.slices.append(s)
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x):
        out = []
        for s in self.slices:
            x = s(x)
            out.append(x)
        return out


class VGGLoss(nn.Module):
    """SPADE's models/networks/loss.py VGGLoss (no ImageNet normalisation)."""

    def __init__(self, vgg):
        super().__init__()
        self.vgg = vgg
        self.criterion = nn.L1Loss()
        self.weights = [1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0]

    def forward(self, x, y):
        x_vgg, y_vgg = self.vgg(x), self.vgg(y)
        loss = 0
        for i in range(len(x_vgg)):
            loss += self.weights[i] * self.criterion(x_vgg[i], y_vgg[i].detach())
        return loss


def f32_uniform(*shape):
    """Uniform in [-1, 1), drawn in float32 (images as the generator's tanh gives them)."""
    return (torch.rand(*shape, dtype=torch.float32) * 2 - 1).double()


def vgg_loss(case, shape):
    net = TinyVGG19(DIVISOR)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("weight"):  # He-scaled, so activations keep their size through 13 layers
                p.copy_(torch.randn(p.shape) * (2.0 / (p.shape[1] * 9)) ** 0.5)
            else:
                p.copy_(torch.randn(p.shape) * 0.1)
    d = os.path.join(OUT, case)
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "vgg19_tiny.pth")
        torch.save(net.state_dict(), pth)  # float32, as torchvision ships it
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_vgg19.py"), pth,
                        os.path.join(d, "vgg19.safetensors")], check=True)
    loss_fn = VGGLoss(VGG19Slices(net.double().features))
    x = f32_uniform(*shape).requires_grad_(True)
    y = f32_uniform(*shape)
    loss = loss_fn(x, y)
    dx = torch.autograd.grad(loss, x)[0]
    save(case, "x", x)
    save(case, "y", y)
    for i, f in enumerate(loss_fn.vgg(x)):
        save(case, f"feature_{i}", f)
    save(case, "loss", loss.reshape(1))
    save(case, "dx", dx)


def main():
    torch.manual_seed(20261125)
    first_and_second_order("vgg_max_pool_2x2", nn.MaxPool2d(2, 2), (2, 3, 6, 8))
    first_and_second_order("vgg_max_pool_3x3_s2_p1", nn.MaxPool2d(3, 2, 1), (2, 3, 7, 9))
    # 24x20 floors at the fourth pooling (3x2 -> 1x1), as odd sizes do in VGG.
    vgg_loss("vgg_loss", (2, 3, 24, 20))
    print("golden data written to", OUT)


if __name__ == "__main__":
    main()
