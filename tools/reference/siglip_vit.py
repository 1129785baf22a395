#!/usr/bin/env python3
"""SigLIP vision-transformer fixtures for tests/vision/siglip_vit_test.cpp.

Builds two tiny random-weight timm VisionTransformers with the settings DeepSeek-VL and
DeepSeek-VL2 use for their SigLIP towers (class_token=False, global_pool="map" so that the unused
attn_pool head exists, LayerNorm eps 1e-6, no pos_embed interpolation, strict patch grid; the MLP's
GELU is exact (erf) for DeepSeek-VL and the tanh approximation for DeepSeek-VL2, whose
VisionTransformer passes act_layer=partial(nn.GELU, approximate='tanh')), and writes for each,
under tests/data/siglip/<variant>/:

  model.safetensors      every parameter in float32 under the official checkpoint names
                         (prefix "vision_model.vision_tower." for DeepSeek-VL, "vision." for
                         DeepSeek-VL2), attn_pool.* included
  config.json            the config object the official config.json would hold (`vision_config`),
                         the name-table entry of the model (v1 looks sizes up by model_name), the
                         prefix, the MLP activation ("gelu" or "gelu_tanh") and the package
                         versions
  reference.safetensors  float32 tensors computed by timm's forward_features:
      pixel_values       (B, 3, S, S) the input, uniform in [-1, 1] (already normalised)
      patch_embed        (B, N, D) the patch embedding (conv, flattened row-major), before pos_embed
      block.<i>          (B, N, D) the output of block i
      norm               (B, N, D) the final LayerNorm: the tower's output
      select_layer.<k>   (B, N, D) v1 only: the output of a tower built with select_layer = k
                         (its first layers + select_layer + 1 blocks, then the final norm)
      norm.bf16_weights  (B, N, D) the output with every parameter rounded to bfloat16 (float32
                         arithmetic): how far bf16 storage of these weights moves the output

Variants:
  v1-patch16   patch 16, 96 px (6x6 patches), width 32, 2 heads, 3 blocks, mlp_ratio 4, exact GELU
  vl2-patch14  patch 14, 104 px (7x7 patches; the last 6 pixels of each row and column are not
               read, as with SO400M's 384 px), width 36, 2 heads (head_dim 18), 3 blocks,
               mlp_ratio 3.7362 (MLP 134), tanh GELU

Usage (CPU is enough):
  pip install torch torchvision timm safetensors   # timm imports torchvision
  python3 tools/reference/siglip_vit.py [VARIANT ...]   # default: every variant
Made with timm 1.0.31 and torch 2.15.0 (the versions are recorded in each config.json).
"""

import argparse
import json
import pathlib
from functools import partial

import safetensors.torch
import timm
import torch
from timm.models.vision_transformer import VisionTransformer

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "siglip"
BATCH = 2

VARIANTS = [
    {
        "variant": "v1-patch16",
        "prefix": "vision_model.vision_tower.",
        "model_name": "siglip_tiny_patch16_96",
        "image_size": 96, "patch_size": 16, "width": 32, "layers": 3, "heads": 2, "mlp_ratio": 4,
        "select_layers": [-2, 1],
        "activation": "gelu",
        "seed": 16,
    },
    {
        "variant": "vl2-patch14",
        "prefix": "vision.",
        "model_name": "siglip_tiny_patch14_104",
        "image_size": 104, "patch_size": 14, "width": 36, "layers": 3, "heads": 2, "mlp_ratio": 3.7362,
        "select_layers": [],
        "activation": "gelu_tanh",
        "seed": 14,
    },
]


ACT_LAYERS = {
    "gelu": torch.nn.GELU,                                  # DeepSeek-VL: timm's default
    "gelu_tanh": partial(torch.nn.GELU, approximate="tanh"),  # DeepSeek-VL2's siglip_vit.py
}


def build(v, depth):
    # DeepSeek-VL's create_siglip_vit / DeepSeek-VL2's VisionTransformer arguments; timm's defaults
    # give LayerNorm(eps=1e-6).
    return VisionTransformer(
        img_size=v["image_size"], patch_size=v["patch_size"], embed_dim=v["width"], depth=depth,
        num_heads=v["heads"], mlp_ratio=v["mlp_ratio"], class_token=False, global_pool="map",
        num_classes=0, act_layer=ACT_LAYERS[v["activation"]]).eval()


def randomise(model, gen):
    # Every parameter random, at the scale of a trained network: matrices N(0, 1/fan_in), norm
    # weights around 1, biases and pos_embed of moderate size.
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=gen)
            if name.startswith("norm") or ".norm" in name:
                p.copy_(1.0 + 0.2 * r if name.endswith("weight") else 0.2 * r)
            elif name.endswith("bias"):
                p.copy_(0.2 * r)
            elif name in ("pos_embed", "attn_pool.latent"):
                p.copy_(0.5 * r)
            else:
                fan_in = p[0].numel()
                p.copy_(r / fan_in ** 0.5)


def depth_for(layers, select_layer):
    # create_siglip_vit (deepseek_vl/models/siglip_vit.py)
    return min(layers, layers + select_layer + 1) if select_layer <= 0 else min(layers, select_layer)


def run(model, pixels):
    got = {}
    hooks = [model.patch_embed.register_forward_hook(lambda m, i, o: got.__setitem__("patch_embed", o))]
    for i, blk in enumerate(model.blocks):
        hooks.append(blk.register_forward_hook(lambda m, i_, o, i=i: got.__setitem__(f"block.{i}", o)))
    with torch.no_grad():
        got["norm"] = model.forward_features(pixels)
    for h in hooks:
        h.remove()
    return got


def main():
    names = [v["variant"] for v in VARIANTS]
    parser = argparse.ArgumentParser(description="Write the SigLIP fixtures under tests/data/siglip.")
    parser.add_argument("variants", nargs="*", metavar="VARIANT",
                        help=f"the variants to write ({', '.join(names)}); default: all")
    chosen = parser.parse_args().variants or names
    for name in chosen:
        if name not in names:
            parser.error(f"unknown variant {name!r} (choose from {', '.join(names)})")
    torch.set_num_threads(1)
    for v in VARIANTS:
        if v["variant"] not in chosen:
            continue
        gen = torch.Generator().manual_seed(v["seed"])
        model = build(v, v["layers"])
        assert all(isinstance(b.mlp.act, torch.nn.GELU) and b.mlp.act.approximate ==
                   ("tanh" if v["activation"] == "gelu_tanh" else "none") for b in model.blocks)
        randomise(model, gen)
        state = {k: t.detach().clone().contiguous() for k, t in model.state_dict().items()}
        assert any(k.startswith("attn_pool.") for k in state)
        S = v["image_size"]
        pixels = torch.rand((BATCH, 3, S, S), generator=gen) * 2 - 1
        ref = {"pixel_values": pixels}
        ref.update(run(model, pixels))
        G = S // v["patch_size"]
        assert ref["norm"].shape == (BATCH, G * G, v["width"])

        # The unread border: changing it must not change the output.
        if S % v["patch_size"]:
            edited = pixels.clone()
            edited[:, :, G * v["patch_size"]:, :] = 7.0
            edited[:, :, :, G * v["patch_size"]:] = -7.0
            assert torch.equal(run(model, edited)["norm"], ref["norm"])

        for k in v["select_layers"]:
            part = build(v, depth_for(v["layers"], k))
            part.load_state_dict({n: t for n, t in state.items()
                                  if not n.startswith("blocks.") or int(n.split(".")[1]) < len(part.blocks)})
            ref[f"select_layer.{k}"] = run(part, pixels)["norm"]

        rounded = build(v, v["layers"])
        rounded.load_state_dict({n: t.to(torch.bfloat16).to(torch.float32) for n, t in state.items()})
        ref["norm.bf16_weights"] = run(rounded, pixels)["norm"]
        dev = (ref["norm.bf16_weights"] - ref["norm"]).abs().max() / ref["norm"].abs().max()

        d = OUT / v["variant"]
        d.mkdir(parents=True, exist_ok=True)
        safetensors.torch.save_file({v["prefix"] + k: t for k, t in state.items()}, d / "model.safetensors")
        safetensors.torch.save_file({k: t.contiguous().float() for k, t in ref.items()}, d / "reference.safetensors")
        sizes = {k: v[k] for k in ("image_size", "patch_size", "width", "layers", "heads", "mlp_ratio")}
        if v["variant"].startswith("v1"):
            vision_config = {"cls": "CLIPVisionTower", "model_type": "vision",
                             "params": {"model_name": v["model_name"], "image_size": S,
                                        "select_feature": "same", "select_layer": -1}}
        else:
            vision_config = {"model_name": v["model_name"], "model_type": "vision", **sizes}
        config = {
            "about": "written by tools/reference/siglip_vit.py",
            "prefix": v["prefix"],
            "vision_config": vision_config,
            "model_config": {v["model_name"]: {**sizes, "global_pool": "map"}},
            "batch": BATCH,
            "select_layers": v["select_layers"],
            "activation": v["activation"],
            "bf16_weights_deviation": float(dev),
            "versions": {"timm": timm.__version__, "torch": torch.__version__.split("+")[0],
                         "safetensors": safetensors.__version__},
        }
        (d / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        print(f"{v['variant']}: {len(state)} tensors, output {tuple(ref['norm'].shape)}, "
              f"max |out| {ref['norm'].abs().max():.3f}, bf16-weight deviation {dev:.2e}")


if __name__ == "__main__":
    main()
