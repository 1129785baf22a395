"""Fixtures for the vision kernels: conv2d, interpolate, pixel_unshuffle and topk, from PyTorch.

Writes tests/data/kernels/vision.json, read by the "... matches PyTorch" tests in
tests/kernels/{conv2d,interpolate,pixel_unshuffle,topk}_test.cpp. Every expected output comes from
torch on the CPU in float32; inputs are seeded, so the file is reproducible.

Run from the repository root:

    python3 tools/reference/kernel_vision.py            # needs torch (pip install torch)

Floats are printed with 9 significant digits, which round-trips float32 exactly. Non-finite
values (topk only) are written as the strings "nan", "inf" and "-inf".
"""

import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "kernels", "vision.json")


def flat(t):
    out = []
    for v in t.detach().reshape(-1).tolist():
        if isinstance(v, float) and not math.isfinite(v):
            out.append("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        elif isinstance(v, float):
            out.append(float("%.9g" % v))
        else:
            out.append(v)
    return out


def conv2d_cases(g):
    cases = []
    # (name, C, H, W, O, kh, kw, stride, padding, bias)
    specs = [
        ("patch k16 s16 (SigLIP-L/16, SAM), trailing pixels dropped", 2, 33, 35, 3, 16, 16, 16, 0, True),
        ("patch k14 s14 (SigLIP-SO400M/14), trailing pixels dropped", 2, 30, 31, 2, 14, 14, 14, 0, True),
        ("3x3 p1 (SAM neck)", 3, 7, 9, 4, 3, 3, 1, 1, False),
        ("3x3 s2 p1 (SAM downsamples), odd size", 3, 9, 8, 5, 3, 3, 2, 1, False),
        ("3x3 s2 p1, even size", 2, 6, 6, 3, 3, 3, 2, 1, True),
        ("1x1 (SAM neck)", 5, 4, 6, 3, 1, 1, 1, 0, False),
        ("2x3 s2 p1 with bias", 3, 5, 7, 2, 2, 3, 2, 1, True),
        ("5x5 p2 on a 1x1 image", 2, 1, 1, 3, 5, 5, 1, 2, True),
    ]
    for name, C, H, W, O, kh, kw, s, p, has_bias in specs:
        x = torch.randn(C, H, W, generator=g)
        w = torch.randn(O, C, kh, kw, generator=g) / math.sqrt(C * kh * kw)
        b = torch.randn(O, generator=g) if has_bias else None
        y = F.conv2d(x[None], w, b, stride=s, padding=p)[0]
        cases.append({
            "name": name, "C": C, "H": H, "W": W, "O": O, "kh": kh, "kw": kw, "stride": s, "padding": p,
            "x": flat(x), "w": flat(w), "bias": flat(b) if b is not None else [],
            "Ho": y.shape[1], "Wo": y.shape[2], "y": flat(y),
        })
    return cases


def interpolate_cases(g):
    cases = []
    # (C, H, W, Ho, Wo): odd sizes up and down, mixed, one axis only, same size, to and from 1.
    sizes = [(1, 5, 7, 9, 4), (1, 9, 8, 4, 3), (1, 4, 5, 11, 13), (1, 7, 6, 1, 1), (1, 1, 1, 3, 2),
             (1, 6, 6, 6, 6), (1, 8, 9, 8, 5), (1, 16, 16, 6, 6), (2, 4, 4, 6, 6)]
    for mode in ("bilinear", "bicubic"):
        for align in (False, True):
            for aa in (False, True):
                for C, H, W, Ho, Wo in sizes:
                    x = torch.randn(C, H, W, generator=g)
                    y = F.interpolate(x[None], size=(Ho, Wo), mode=mode, align_corners=align, antialias=aa)[0]
                    cases.append({"mode": mode, "align_corners": align, "antialias": aa, "C": C, "H": H, "W": W,
                                  "Ho": Ho, "Wo": Wo, "x": flat(x), "y": flat(y)})
    return cases


def pixel_unshuffle_cases(g):
    cases = []
    for C, H, W, r in [(3, 6, 4, 2), (2, 6, 9, 3), (2, 3, 5, 1), (1, 2, 2, 2)]:
        x = torch.randn(C, H, W, generator=g)
        y = F.pixel_unshuffle(x[None], r)[0]
        cases.append({"C": C, "H": H, "W": W, "r": r, "x": flat(x), "y": flat(y)})
    return cases


def topk_cases(g):
    cases = []
    specs = [(4, 10, 3, True, False), (3, 64, 6, True, False), (2, 72, 6, False, False), (3, 9, 9, True, True),
             (2, 5, 0, False, False), (1, 1, 1, False, False)]
    for T, E, k, ties, special in specs:
        x = torch.randn(T, E, generator=g)
        if ties:
            x = torch.round(x * 2) / 2  # many equal values
        if special:
            x[0, 2] = float("nan")
            x[0, 5] = float("nan")
            x[1, 1] = float("inf")
            x[1, 3] = float("-inf")
            x[2, :] = 0.0
            x[2, 4] = -0.0
        values, _ = torch.topk(x, k, dim=-1, largest=True, sorted=True)
        # torch.topk does not specify the order of ties; a stable descending sort gives the
        # documented order (equal values by ascending index, NaN first).
        order = torch.sort(x, dim=-1, descending=True, stable=True).indices[:, :k]
        cases.append({"T": T, "E": E, "k": k, "x": flat(x), "values": flat(values), "indices": flat(order)})
    return cases


def main():
    g = torch.Generator().manual_seed(20240601)
    data = {
        "torch_version": torch.__version__,
        "conv2d": conv2d_cases(g),
        "interpolate": interpolate_cases(g),
        "pixel_unshuffle": pixel_unshuffle_cases(g),
        "topk": topk_cases(g),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
