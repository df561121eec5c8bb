#!/usr/bin/python3
"""Converts a torchvision VGG19 state dict (a .pth file with keys
features.N.weight / features.N.bias, e.g. torchvision's vgg19-dcbb9e9d.pth) into
the safetensors weight file that sbgan's VGG19 perceptual loss reads.

The tensors keep their names and dtypes. Only the `features.*` entries are
written: the perceptual loss never uses the classifier, whose weights would make
the file five times larger. The file is checked to be VGG19's topology (sixteen
3x3 convolutions with 64, 128, 256 and 512 channels, or all of them divided by one
power of two, as the tests' tiny networks are).

Needs only PyTorch (Tensor.numpy() supplies the raw bytes) and the Python standard
library: not torchvision, not the safetensors package. The output is written to a
temporary file beside the target and renamed over it.

Usage:  /usr/bin/python3 tools/convert_vgg19.py vgg19.pth vgg19.safetensors
"""
import argparse
import json
import os
import pickle
import re
import struct
import sys
import tempfile

import torch

# torchvision's configuration "E": channel counts, "M" for a 2x2 max pooling.
VGG19_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                512, 512, 512, 512, "M"]

DTYPES = {torch.float64: ("F64", torch.int64), torch.float32: ("F32", torch.int32),
          torch.float16: ("F16", torch.int16), torch.bfloat16: ("BF16", torch.int16)}


def conv_shapes(divisor):
    """{index in features: (out, in)} for every convolution of VGG19."""
    shapes, index, channels = {}, 0, 3
    for v in VGG19_CONFIG:
        if v == "M":
            index += 1
            continue
        out = v // divisor
        shapes[index] = (out, channels)
        channels = out
        index += 2  # the convolution and its ReLU
    return shapes


def load_state_dict(path):
    # weights_only (PyTorch 1.13 and later): a state dict holds tensors only, and
    # unpickling anything else could run code.
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: not a plain state dict (save model.state_dict(), not the model): {e}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a state dict")
    return obj


def vgg19_features(state):
    """The features.* tensors, checked against VGG19's topology."""
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    if "features.0.weight" not in features:
        raise ValueError("no features.0.weight: not a torchvision VGG19 state dict")
    first = features["features.0.weight"].shape[0]
    if first <= 0 or 64 % first != 0 or (64 // first) & (64 // first - 1):
        raise ValueError(f"features.0.weight has {first} output channels; VGG19 has 64 (or 64 / a power of two)")
    expected = conv_shapes(64 // first)
    for index, (out, inp) in expected.items():
        for name, shape in ((f"features.{index}.weight", (out, inp, 3, 3)), (f"features.{index}.bias", (out,))):
            if name not in features:
                raise ValueError(f"missing {name}")
            if tuple(features[name].shape) != shape:
                raise ValueError(f"{name} has shape {tuple(features[name].shape)}, VGG19 needs {shape}")
    for name in features:
        m = re.fullmatch(r"features\.(\d+)\.(weight|bias)", name)
        if not m or int(m.group(1)) not in expected:
            raise ValueError(f"unexpected tensor {name}: not part of VGG19's features")
    return features, 64 // first


def tensor_bytes(t):
    """Row-major little-endian bytes of a tensor."""
    if t.dtype not in DTYPES:
        raise ValueError(f"unsupported dtype {t.dtype}")
    raw = t.detach().cpu().contiguous().view(DTYPES[t.dtype][1]).numpy()
    if sys.byteorder == "big":
        raw = raw.byteswap()
    return raw.tobytes()


def write_safetensors(path, tensors, metadata):
    """The safetensors format: u64 header length, JSON header, data."""
    names = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))  # widest first: aligned data
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in names:
        t = tensors[name]
        blob = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype][0], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for blob in blobs:
                f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def convert(source, target):
    features, divisor = vgg19_features(load_state_dict(source))
    metadata = {"format": "torchvision-vgg19-features", "width_divisor": str(divisor),
                "source": os.path.basename(source)}
    write_safetensors(target, features, metadata)
    return features, divisor


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="torchvision VGG19 state dict (.pth)")
    parser.add_argument("target", help="output .safetensors file")
    args = parser.parse_args()
    try:
        features, divisor = convert(args.source, args.target)
    except (ValueError, OSError, RuntimeError) as e:
        sys.exit(f"convert_vgg19: {e}")
    size = sum(t.numel() for t in features.values())
    width = "" if divisor == 1 else f" (width / {divisor})"
    print(f"wrote {args.target}: {len(features)} tensors, {size} values{width}")


if __name__ == "__main__":
    main()
