#!/usr/bin/python3
"""Golden data for the straight-through Gumbel-softmax sampler (reference section 3.3),
written into tests/golden/gumbel_<case>/.

The reference sampler, on the channel axis, with the noise given:
    logits = log(p + 1e-5)
    y_soft = softmax((logits + g) / tau)
    y_hard = one-hot(argmax y_soft)
    y      = y_hard - y_soft.detach() + y_soft
p is a softmax of float32 logits (some classes near zero, as a trained generator's
are), g is the reference's noise -log(E + 1e-10), E ~ Exp(1), drawn in float32; both
are stored exactly. Everything else is computed in float64.

Files: p, noise, dy (inputs); y_soft, y_hard, y (forward); dp (gradient of <y, dy>
with respect to p, i.e. through the soft sample).
Run:  /usr/bin/python3 tools/golden/gumbel.py [out_dir]   (make_golden reads out_dir)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import save, f32  # noqa: E402

EPS = 1e-5

# The C++ float run must pick the same argmax as PyTorch's float64 run element by
# element; a gap of 1e-3 between the two largest perturbed logits is far above any
# float rounding of them (about 1e-6 here), so the comparison can be exact.
MIN_TOP2_GAP = 1e-3


def reference_sampler(p, g, tau):
    logits = torch.log(p + EPS)
    y_soft = torch.softmax((logits + g) / tau, dim=1)
    index = y_soft.max(dim=1, keepdim=True)[1]
    y_hard = torch.zeros_like(y_soft).scatter_(1, index, 1.0)
    return y_soft, y_hard, y_hard - y_soft.detach() + y_soft


def case(name, shape, tau, spread):
    p = torch.softmax(f32(*shape) * spread, dim=1).float().double().requires_grad_(True)
    e = torch.empty(*shape, dtype=torch.float32).exponential_()
    g = (-torch.log(e + 1e-10)).double()
    z = ((torch.log(p + EPS) + g) / tau).detach()
    top2 = z.topk(2, dim=1)[0]
    gap = (top2[:, 0] - top2[:, 1]).min().item()
    assert gap > MIN_TOP2_GAP, f"{name}: near tie in the argmax (gap {gap}); pick another seed"
    y_soft, y_hard, y = reference_sampler(p, g, tau)
    dy = f32(*shape)
    dp = torch.autograd.grad(y, p, dy)[0]
    case_name = "gumbel_" + name
    for n, t in dict(p=p, noise=g, dy=dy, y_soft=y_soft, y_hard=y_hard, y=y, dp=dp).items():
        save(case_name, n, t)
    print(f"{case_name}: shape {tuple(shape)}, tau {tau}, min p {p.min().item():.3g}, "
          f"top-2 gap {gap:.3g}, max |y - y_hard| {(y - y_hard).abs().max().item():.3g}")


def main():
    torch.manual_seed(20261125)
    case("tau1", (2, 5, 3, 4), 1.0, 2.5)
    case("tau05", (2, 6, 4, 3), 0.5, 2.5)


if __name__ == "__main__":
    main()
