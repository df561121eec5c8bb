#!/usr/bin/env python3
"""Writes tests/golden/safetensors_python/fixture.safetensors with the reference
implementation (the `safetensors` package from pip, with numpy), so that
tests/test_safetensors.cpp proves the C++ reader reads what Python writes.

The values are simple and exact in every dtype; the C++ test spells them out.
Run in a throwaway environment:
    python3 -m venv /tmp/st && /tmp/st/bin/pip install safetensors numpy
    /tmp/st/bin/python tools/golden/safetensors_fixture.py
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "golden")


def main():
    tensors = {
        "f32_matrix": (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3),
        "f64_scalar": np.array(3.25, dtype=np.float64),
        "f16_vector": np.array([1, -2, 0.5, 65504, 2.0 ** -24], dtype=np.float16),
        "i64_vector": np.array([-3, 0, 2 ** 40], dtype=np.int64),
        "i32_vector": np.array([-7, 123456], dtype=np.int32),
        "u8_image": np.arange(8, dtype=np.uint8).reshape(1, 2, 2, 2),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "rank5": np.ones((1, 1, 1, 1, 2), dtype=np.float32),
    }
    d = os.path.join(OUT, "safetensors_python")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "fixture.safetensors")
    save_file(tensors, path, metadata={"written_by": "safetensors (Python)", "epoch": "7"})
    print("wrote", path)


if __name__ == "__main__":
    main()
