#!/usr/bin/python3
"""Golden data for the data pipeline's resampling (include/sbgan/data/preprocess.hpp),
written into tests/golden/data_resize/ by Pillow itself (Debian's python3-pil), the
library torchvision's Resize runs on for the reference's PIL images.

Inputs are random bytes from a fixed seed (an RGB image, a label map with values
0..33). For each (name, input, size, filter) the result of Image.resize((w, h),
filter) is stored as float64 [1, C, H, W] (the bytes, exactly):
    rgb.npy, labels.npy                              the inputs
    <up|down|odd>_<bilinear|bicubic>.npy             RGB resizes
    labels_<up|down|odd>.npy                         NEAREST resizes of the label map
Run:  /usr/bin/python3 tools/golden/data_resize.py [out_dir]
"""
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "golden"), "data_resize")

# (name, height, width): enlarging, shrinking by a non-integer factor (antialiased
# taps), and odd sizes in both directions.
SIZES = [("up", 13, 19), ("down", 5, 3), ("odd", 9, 6)]


def save(name, hwc):
    a = np.asarray(hwc, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    np.save(os.path.join(OUT, name + ".npy"), a.transpose(2, 0, 1)[None].copy())


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20240607)
    rgb = rng.randint(0, 256, size=(7, 11, 3)).astype(np.uint8)
    labels = rng.randint(0, 34, size=(7, 11)).astype(np.uint8)
    save("rgb", rgb)
    save("labels", labels)
    for name, h, w in SIZES:
        for filt, tag in ((Image.BILINEAR, "bilinear"), (Image.BICUBIC, "bicubic")):
            save(f"{name}_{tag}", Image.fromarray(rgb, "RGB").resize((w, h), filt))
        save(f"labels_{name}", Image.fromarray(labels, "L").resize((w, h), Image.NEAREST))
    print(f"data_resize: Pillow {Image.__version__ if hasattr(Image, '__version__') else ''}, {len(SIZES)} sizes -> {OUT}")


if __name__ == "__main__":
    main()
