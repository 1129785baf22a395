"""Fixtures for the row-wise and element-wise kernels, from PyTorch.

Writes tests/data/kernels/rows.json, read by tests/kernels/kernel_rows_test.cpp, which checks the
scalar references against it: nn.LayerNorm, SAM's LayerNorm2d, F.softmax with causal and padding
masks, F.gelu (exact and tanh), F.silu, SwiGLU, the transformers LLaMA rotate_half RoPE (with its
cos/sin tables) and DeepSeek-V2's interleaved apply_rotary_pos_emb (spec.md 5.4), each written
here in torch as those modules compute them. Everything runs on the CPU in float32 from seeded
inputs, so the file is reproducible.

Run from the repository root:

    python3 tools/reference/kernel_rows.py            # needs torch (pip install torch)

Floats are printed with 9 significant digits, which round-trips float32 exactly; non-finite inputs
are written as the strings "inf" and "-inf". LayerNorm weights and biases are rounded to bfloat16
values, so the C++ test can feed them as f32 or bf16. A softmax row with every entry masked is
written as zeros (torch gives NaN there; dsvl's contract says zeros).
"""

import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "kernels", "rows.json")


def flat(t):
    out = []
    for v in t.detach().reshape(-1).tolist():
        if math.isfinite(v):
            out.append(float("%.9g" % v))
        else:
            out.append("inf" if v > 0 else "-inf")
    return out


def bf16_values(t):
    return t.to(torch.bfloat16).float()


def layer_norm_cases(g):
    cases = []
    for name, T, D, eps, has_bias in [
        ("SigLIP-style, eps 1e-6", 3, 37, 1e-6, True),
        ("no bias, eps 1e-5", 2, 64, 1e-5, False),
        ("one element per row: y = bias", 2, 1, 1e-5, True),
    ]:
        x = torch.randn(T, D, generator=g) * 2 + 1.5
        ln = nn.LayerNorm(D, eps=eps, bias=has_bias)
        with torch.no_grad():
            ln.weight.copy_(bf16_values(torch.rand(D, generator=g) + 0.5))
            if has_bias:
                ln.bias.copy_(bf16_values(torch.randn(D, generator=g)))
        y = ln(x)
        cases.append({"name": name, "T": T, "D": D, "eps": eps, "x": flat(x), "weight": flat(ln.weight),
                      "bias": flat(ln.bias) if has_bias else [], "y": flat(y)})
    return cases


def layer_norm2d_sam(x, weight, bias, eps):
    # SAM / ViTDet LayerNorm2d on (C, H, W): normalise each pixel over the channels.
    u = x.mean(0, keepdim=True)
    s = (x - u).pow(2).mean(0, keepdim=True)
    x = (x - u) / torch.sqrt(s + eps)
    return weight[:, None, None] * x + bias[:, None, None]


def layer_norm2d_cases(g):
    cases = []
    for C, H, W in [(12, 3, 5), (5, 2, 9)]:
        x = torch.randn(C, H, W, generator=g) * 3 - 1
        w = bf16_values(torch.rand(C, generator=g) + 0.5)
        b = bf16_values(torch.randn(C, generator=g))
        y = layer_norm2d_sam(x, w, b, 1e-6)
        cases.append({"C": C, "H": H, "W": W, "eps": 1e-6, "x": flat(x), "weight": flat(w), "bias": flat(b),
                      "y": flat(y)})
    return cases


def masked_softmax(x, scale, causal_offset, valid):
    R, S = x.shape
    r = torch.arange(R)[:, None]
    s = torch.arange(S)[None, :]
    mask = torch.zeros(R, S, dtype=torch.bool)
    if causal_offset >= 0:
        mask |= s > r + causal_offset
    if valid >= 0:
        mask |= s >= valid
    y = F.softmax((scale * x).masked_fill(mask, float("-inf")), dim=-1)
    return torch.where(mask.all(dim=-1, keepdim=True), torch.zeros_like(y), y)


def softmax_cases(g):
    cases = []
    for name, R, S, scale, causal_offset, valid in [
        ("unmasked, scale 1/8", 4, 23, 0.125, -1, -1),
        ("causal prefill", 5, 5, 0.3, 0, -1),
        ("causal with 3 cached tokens", 3, 9, 1.0, 3, -1),
        ("key padding", 2, 10, 1.0, -1, 6),
        ("causal and padding", 6, 8, 0.5, 1, 4),
        ("every entry masked", 2, 5, 1.0, -1, 0),
        ("huge and infinite logits", 3, 6, 1.0, -1, -1),
    ]:
        x = torch.randn(R, S, generator=g) * 6
        if name.startswith("huge"):
            x[0, 1] = 1e30
            x[0, 4] = float("-inf")
            x[1, :] = float("-inf")
            x[1, 2] = -1e30
            x[2, 0] = -1e30
            x[2, 3] = 1e30
            x[2, 5] = 1e30
        y = masked_softmax(x, scale, causal_offset, valid)
        cases.append({"name": name, "R": R, "S": S, "scale": scale, "causal_offset": causal_offset, "valid": valid,
                      "x": flat(x), "y": flat(y)})
    return cases


def activation_cases(g):
    x = torch.cat([torch.linspace(-8, 8, 65), torch.randn(40, generator=g) * 3])
    up = torch.randn(x.shape[0], generator=g)
    return {"x": flat(x), "up": flat(up), "gelu_erf": flat(F.gelu(x)), "gelu_tanh": flat(F.gelu(x, approximate="tanh")),
            "silu": flat(F.silu(x)), "swiglu": flat(F.silu(x) * up)}


def rope_tables(positions, dim, base):
    # transformers LlamaRotaryEmbedding / DeepseekV2RotaryEmbedding (no scaling), in float32.
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rope_half_cases(g):
    cases = []
    for positions, H, Dh in [([0, 1, 17, 4095], 2, 16), ([3, 250], 3, 128)]:
        pos = torch.tensor(positions, dtype=torch.int32)
        cos, sin = rope_tables(pos, Dh, 10000.0)
        x = torch.randn(len(positions), H, Dh, generator=g)
        y = x * cos[:, None, :] + rotate_half(x) * sin[:, None, :]  # LLaMA apply_rotary_pos_emb
        cases.append({"positions": positions, "theta": 10000.0, "H": H, "Dh": Dh, "x": flat(x), "y": flat(y),
                      "cos": flat(cos[:, : Dh // 2]), "sin": flat(sin[:, : Dh // 2])})
    return cases


def rope_deepseek_v2(x, cos, sin):
    # DeepSeek-V2 apply_rotary_pos_emb: de-interleave the pairs, then rotate_half. The output is in
    # the de-interleaved order [rotated evens, rotated odds].
    T, H, d = x.shape
    x = x.view(T, H, d // 2, 2).transpose(3, 2).reshape(T, H, d)
    return x * cos[:, None, :] + rotate_half(x) * sin[:, None, :]


def rope_interleaved_cases(g):
    cases = []
    for positions, H in [([0, 5, 100, 4000], 2), ([7, 8, 9], 1)]:
        pos = torch.tensor(positions, dtype=torch.int32)
        cos, sin = rope_tables(pos, 64, 10000.0)
        x = torch.randn(len(positions), H, 64, generator=g)
        cases.append({"positions": positions, "theta": 10000.0, "H": H, "Dh": 64, "x": flat(x),
                      "y_deinterleaved": flat(rope_deepseek_v2(x, cos, sin))})
    return cases


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(20240311)
    data = {
        "torch_version": torch.__version__,
        "layer_norm": layer_norm_cases(g),
        "layer_norm2d": layer_norm2d_cases(g),
        "softmax": softmax_cases(g),
        "activations": activation_cases(g),
        "rope_half": rope_half_cases(g),
        "rope_interleaved": rope_interleaved_cases(g),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
