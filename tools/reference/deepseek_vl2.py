"""End-to-end reference fixtures for DeepSeek-VL2: tiny random-weight models run by the official code.

Writes tests/data/deepseek_vl2/:

    image_a.png .. image_c.png   the test images (290x200, 200x100, 90x170), drawn here
    pixel_values.safetensors     what the official processor gave the vision tower, per case (the
                                 same for every variant: the three folders share the processor
                                 configuration and the tokenizer, which the script checks)
    tiling.json                  the official processor's tiling choice for 44 image sizes, with
                                 the released 384-pixel candidate list and with the tiny one
    README.md                    what every file and tensor is (generated: shapes and dtypes)
    tiny-mha/                    the DeepSeek-VL2-Tiny language model: plain multi-head attention
                                 (transformers' LlamaAttention), softmax router, top-k greedy,
                                 no renormalisation
    tiny-mla/                    the DeepSeek-VL2-Small language model: multi-head latent attention
                                 (no q LoRA), softmax router, top-k greedy, no renormalisation
    tiny-mla-noaux/              the DeepSeek-VL2 (base) language model: MLA, sigmoid router,
                                 `noaux_tc` with e_score_correction_bias and group-limited choice
                                 (4 groups, keep 2), renormalised weights times 2.0

Each variant folder is a model directory in the layout of the official Hugging Face repositories
(deepseek-ai/deepseek-vl2{-tiny,-small,}): config.json (model_type "deepseek_vl_v2" with nested
vision_config / projector_config / language_config, tile_tag "2D", global_view_pos "head",
candidate_resolutions), model.safetensors (the official tensor names, float32),
processor_config.json, tokenizer.json and tokenizer_config.json; plus reference.safetensors, what
the official code computed from it for four prompts (the README lists every tensor): input ids,
the image-token mask, the tiling, the vision tower and projector outputs, inputs_embeds, the
output of every decoder layer and the final norm at the last 32 positions, logits at the last 8
positions, the routed experts and their weights in every MoE layer at every position, and 16
greedy tokens. The pixel values (uint8, from which the float32 values follow exactly) are in
pixel_values.safetensors, once for all variants, which keeps the folder near 6 MB.

How the tiny models run in the official code (nothing in it is edited):

  - Every size the VL2 code uses comes from the configuration: `DeepseekVLV2ForCausalLM` builds
    its SigLIP `VisionTransformer` from vision_config (image_size, patch_size, width, layers,
    heads, mlp_ratio; `model_name` is not read), the projector from projector_config, and the
    language model from language_config. The processor takes the tile size from
    candidate_resolutions[0][0], and patch_size and downsample_ratio from processor_config.json;
    tokens per tile side = ceil((tile // patch_size) / downsample_ratio). The projector derives the
    grid side from the number of vision tokens (int(sqrt(n))). Nothing is fixed at 384 or 14 in
    the model or processor path.
  - So the tiny models keep the real algorithms at a small tile: 102 px instead of 384. A 102-px
    tile has floor((102 - 14) / 14) + 1 = 7 patches per side, and its last 4 pixel rows and
    columns are never read, as 384's last 6 are; 7 is odd, so the projector zero-pads the 7x7
    grid to 8x8 like 27x27 to 28x28, giving 4x4 = 16 tokens per tile (196 at 384). The
    candidate_resolutions are the released 23 entries in the same order, each side divided by
    384 and multiplied by 102. Per image: 4 * 5 + 1 + (4 * h_tiles) * (4 * w_tiles + 1) image
    tokens.
  - The released configs leave some keys to class defaults that do not fit tiny models, so the
    tiny config.json files set them: vision_config image_size (default 384) and heads (default 16),
    projector_config input_dim (default 1152) and projector_type, and tile_tag, whose
    DeepseekVLV2Config default is the string "tile_tag" (an error at model construction).
  - The official SigLIP attention calls xformers' `memory_efficient_attention`, which has no CPU
    kernel. This script registers a stand-in module as `xformers.ops` (and `xformers`) before the
    model runs: `memory_efficient_attention(q, k, v, attn_bias=None, p=0.0, scale=None)` on
    [batch, tokens, heads, head_dim] computes softmax(q k^T * head_dim^-0.5) v in float32, which is
    the same function (no mask, no dropout at inference). flash-attn is not installed, so the
    official code takes that branch for every head size. Nothing else is replaced.
  - The official SigLIP uses GELU with the tanh approximation (`act_layer = partial(nn.GELU,
    approximate='tanh')` in `VisionTransformer.__init__`), LayerNorm eps 1e-6, a final norm, no
    class token; the unused `attn_pool` is built (global_pool "map") and written to the weights,
    as the official module tree holds it. The projector's GELU is exact (nn.GELU()).
  - language_config sets max_position_embeddings 1024 (released: 4096); the longest prompt here
    has fewer than 300 tokens.
  - Weights are random (seeded), with scales that keep activations O(1); every parameter is set,
    including image_newline, view_seperator and e_score_correction_bias (uniform in [0, 0.3): it
    changes the chosen experts of many tokens, which the script checks, and keeps every biased
    choice score positive, so the official masking of the unchosen groups with 0.0 never picks a
    masked expert).
  - The run is float32 on CPU, one thread, deterministic algorithms (the official demos run bf16 on
    GPU). The processor is called as the official README calls it (`conversations=...,
    force_batchify=True, system_prompt=""`, then `.to("cpu", dtype=torch.float32)` instead of
    bf16), `prepare_inputs_embeds`, the `language` forward, and `language.generate(...,
    do_sample=False, use_cache=True)` for 16 tokens. The script asserts that the greedy tokens
    equal an uncached re-run (one forward over prompt + generated tokens), that the top-1 logit
    beats the top-2 by more than 0.01 at each step, that each case's 16 tokens hold at least 8
    distinct ids, and that no routing decision (k-th against (k+1)-th choice score, and the group
    choice of noaux_tc) is within 1e-4 of a tie; the seeds were picked so that these hold. It then reloads each directory with `DeepseekVLV2ForCausalLM.from_pretrained` and
    `DeepseekVLV2Processor.from_pretrained` and checks bit-identical logits and that the file holds
    exactly the model's state_dict. Re-running the script reproduces every file byte for byte.

Tokenizer: tests/data/tokenizer/tiny-deepseek-v3/tokenizer.json (a byte-level BPE with the
DeepSeek-V3 pre-tokenizer) cut to its first 640 ids (BOS 0, EOS 1, pad 2, the 256 byte symbols
and the first 381 merges, which produce ids 259-639 in order, so the result is the same BPE with
fewer merges; this keeps the embedding tables small). Its added tokens are replaced by those of
deepseek-vl2's tokenizer.json that the VL2 processor uses, with the same flags and the same order:
BOS `<｜begin▁of▁sentence｜>` 0, EOS `<｜end▁of▁sentence｜>` 1, pad `<｜▁pad▁｜>` 2 (in the BPE
vocabulary, as there), then `<image>` 640, `<|ref|>` 641, `<|/ref|>` 642, `<|det|>` 643, `<|/det|>`
644, `<|grounding|>` 645, `<|User|>` 646, `<|Assistant|>` 647 (special, no strip flags,
normalized false; 128815-128822 in deepseek-vl2). The LM vocab_size is 672 (rows 648-671 unused, as
128823-129279 are in the real models).

The official code is not on PyPI. Get it from GitHub and install it in a virtual environment
outside this repository (torch and transformers as DeepSeek-VL2's pyproject pins them,
torchvision to match; `attrdict` 2.0.1 imports on Python >= 3.10 because deepseek_vl2 patches
`collections`; xformers is not needed, see above):

    git clone https://github.com/deepseek-ai/DeepSeek-VL2 /tmp/DeepSeek-VL2
    git -C /tmp/DeepSeek-VL2 checkout ef9f91e2b6426536b83294c11742c27be66361b1
    python3.11 -m venv /tmp/dsvl-ref && . /tmp/dsvl-ref/bin/activate
    pip install torch==2.0.1 torchvision==0.15.2 transformers==4.38.2 tokenizers==0.15.2 \\
        "numpy<2" pillow==10.2.0 timm==0.9.16 einops attrdict==2.0.1 sentencepiece \\
        accelerate==0.27.2 safetensors
    pip install --no-deps /tmp/DeepSeek-VL2

Then, from the repository root (about ten seconds on one CPU core):

    python tools/reference/deepseek_vl2.py
"""

import json
import math
import os
import sys
import types

import numpy as np
import PIL
import safetensors
import timm
import tokenizers
import torch
import torch.nn.functional as F
import torchvision
import transformers
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file


# ---------------------------------------------------------------------------------------------
# xformers stand-in (the official SigLIP imports it inside Attention.forward)


def memory_efficient_attention(query, key, value, attn_bias=None, p=0.0, scale=None):
    """softmax(q k^T * scale) v on [batch, tokens, heads, head_dim], in float32, as xformers computes it."""
    assert attn_bias is None and p == 0.0
    scale = query.shape[-1] ** -0.5 if scale is None else scale
    q, k, v = (t.float().transpose(1, 2) for t in (query, key, value))  # [B, H, N, D]
    attn = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)
    return (attn @ v).transpose(1, 2).to(query.dtype)  # [B, N, H, D]


def install_xformers_stand_in():
    ops = types.ModuleType("xformers.ops")
    ops.memory_efficient_attention = memory_efficient_attention
    pkg = types.ModuleType("xformers")
    pkg.ops = ops
    sys.modules["xformers"] = pkg
    sys.modules["xformers.ops"] = ops


install_xformers_stand_in()

# This file is named like the official package: take its folder off the import path first.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

from deepseek_vl2.models import DeepseekVLV2ForCausalLM, DeepseekVLV2Processor  # noqa: E402
from deepseek_vl2.models.modeling_deepseek_vl_v2 import DeepseekVLV2Config  # noqa: E402
from deepseek_vl2.models.processing_deepseek_vl_v2 import select_best_resolution  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(REPO, "tests", "data", "deepseek_vl2")
TINY_TOKENIZER = os.path.join(REPO, "tests", "data", "tokenizer", "tiny-deepseek-v3", "tokenizer.json")

VL2_CODE = {"repository": "github.com/deepseek-ai/DeepSeek-VL2", "commit": "ef9f91e2b6426536b83294c11742c27be66361b1"}

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
IMAGE_TAG = "<image>"
# deepseek-vl2's added tokens after the placeholders / FIM / tool tokens, in their order.
VL2_ADDED = [IMAGE_TAG, "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|grounding|>", "<|User|>", "<|Assistant|>"]
BPE_SIZE = 640           # ids kept from the tiny V3 BPE (0-2 specials, 3-258 bytes, 259-639 merges)
BOS_ID, EOS_ID, PAD_ID = 0, 1, 2
IMAGE_ID = BPE_SIZE
LM_VOCAB = 672
GREEDY_STEPS = 16
LOGIT_ROWS = 8            # logits are kept for the last LOGIT_ROWS positions of each prompt
HIDDEN_ROWS = 32          # decoder-layer outputs and the final norm: the last HIDDEN_ROWS positions
MIN_GREEDY_MARGIN = 1e-2  # top-1 minus top-2 logit at every greedy step
MIN_ROUTER_GAP = 1e-4     # k-th minus (k+1)-th choice score (and group score) for every token
MIN_DISTINCT_GREEDY = 8   # distinct ids among the greedy tokens (no early loop on one token)

TILE = 102
PATCH = 14
DOWNSAMPLE = 2
# The released candidate_resolutions (deepseek-vl2{-tiny,-small,} processor_config.json), (W, H).
CANDIDATES_384 = [(384, 384), (384, 768), (768, 384), (384, 1152), (1152, 384), (384, 1536), (1536, 384),
                  (768, 768), (384, 1920), (1920, 384), (384, 2304), (2304, 384), (768, 1152), (1152, 768),
                  (384, 2688), (2688, 384), (384, 3072), (3072, 384), (768, 1536), (1536, 768), (384, 3456),
                  (3456, 384), (1152, 1152)]
CANDIDATES_TINY = [(w // 384 * TILE, h // 384 * TILE) for w, h in CANDIDATES_384]

# ---------------------------------------------------------------------------------------------
# The three model directories


def vision_config():
    # The official VisionTransformer reads image_size, patch_size, width, layers, heads, mlp_ratio
    # (and class_token, global_pool, ignore_head with their defaults False, "map", True).
    return {"image_size": TILE, "layers": 2, "heads": 2, "mlp_ratio": 3.7362, "model_name": "siglip_tiny_patch14_102",
            "model_type": "vision", "patch_size": PATCH, "width": 32}


def projector_config(hidden):
    return {"depth": 2, "downsample_ratio": DOWNSAMPLE, "input_dim": 32, "mlp_ratio": 1, "model_type": "mlp_projector",
            "n_embed": hidden, "projector_type": "downsample_mlp_gelu"}


HIDDEN = 64


def language_config(**kw):
    # rms_norm_eps, rope_theta and rope_scaling are left out, as in the released language_config;
    # DeepseekV2Config's defaults apply (1e-6, 10000.0, None).
    c = {"architectures": ["DeepseekV2ForCausalLM"], "bos_token_id": BOS_ID, "eos_token_id": EOS_ID,
         "first_k_dense_replace": 1, "hidden_size": HIDDEN, "intermediate_size": 96, "max_position_embeddings": 1024,
         "model_type": "deepseek_v2", "moe_intermediate_size": 24, "n_routed_experts": 8, "n_shared_experts": 2,
         "num_attention_heads": 4, "num_experts_per_tok": 3, "num_hidden_layers": 3, "num_key_value_heads": 4,
         "torch_dtype": "float32", "vocab_size": LM_VOCAB}
    c.update(kw)
    return c


def top_config(language):
    return {"candidate_resolutions": [list(c) for c in CANDIDATES_TINY], "global_view_pos": "head",
            "language_config": language, "model_type": "deepseek_vl_v2", "projector_config": projector_config(HIDDEN),
            "tile_tag": "2D", "torch_dtype": "float32", "transformers_version": transformers.__version__,
            "vision_config": vision_config()}


MLA = {"kv_lora_rank": 32, "q_lora_rank": None, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16}

VARIANTS = {
    "tiny-mha": {
        "about": ("DeepSeek-VL2-Tiny language model: use_mla false (transformers' LlamaAttention, 4 heads x 16, "
                  "rotate-half RoPE), softmax router, greedy top-3 of 8 experts, no renormalisation, scale 1.0"),
        "seed": 2110,
        # As deepseek-vl2-tiny's language_config: the MLA keys null / 0, lm_head / rm_head flags (unread).
        "config": top_config(language_config(
            use_mla=False, kv_lora_rank=None, q_lora_rank=None, qk_nope_head_dim=0, qk_rope_head_dim=0, v_head_dim=0,
            topk_method="greedy", n_group=1, topk_group=1, scoring_func="softmax", norm_topk_prob=False,
            routed_scaling_factor=1.0, lm_head=True, rm_head=False)),
    },
    "tiny-mla": {
        "about": ("DeepSeek-VL2-Small language model: multi-head latent attention (4 heads, kv_lora_rank 32, "
                  "qk_nope 16, qk_rope 8, v 16, no q LoRA), softmax router, greedy top-3 of 8 experts, "
                  "no renormalisation, scale 1.0"),
        "seed": 1607,
        "config": top_config(language_config(
            **MLA, topk_method="greedy", scoring_func="softmax", norm_topk_prob=False, routed_scaling_factor=1.0)),
    },
    "tiny-mla-noaux": {
        "about": ("DeepSeek-VL2 (base) language model: multi-head latent attention as tiny-mla, sigmoid router, "
                  "noaux_tc (choice = score + e_score_correction_bias; 4 groups of 2 experts, group score = sum of "
                  "its top-2 choices, keep the top 2 groups, top-3 experts), weights = unbiased scores renormalised "
                  "to sum 1, times routed_scaling_factor 2.0"),
        "seed": 2712,
        "config": top_config(language_config(
            **MLA, topk_method="noaux_tc", n_group=4, topk_group=2, scoring_func="sigmoid", norm_topk_prob=True,
            routed_scaling_factor=2.0, lm_head=False)),
    },
}


def processor_config(candidates):
    # deepseek-vl2's processor_config.json with the tiny candidate list.
    return {"add_special_token": False, "candidate_resolutions": [list(c) for c in candidates], "downsample_ratio": DOWNSAMPLE,
            "ignore_id": -100, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "image_token": IMAGE_TAG,
            "mask_prompt": False, "normalize": True, "pad_token": PAD, "patch_size": PATCH,
            "processor_class": "DeepseekVLV2Processor", "sft_format": "deepseek"}


def added_token(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
            "special": True}


def tokenizer_config():
    # deepseek-vl2's tokenizer_config.json with its added_tokens_decoder cut to the tiny tokenizer's.
    added = {str(i): {k: v for k, v in added_token(i, c).items() if k != "id"}
             for i, c in [(BOS_ID, BOS), (EOS_ID, EOS), (PAD_ID, PAD)] + [(IMAGE_ID + j, c) for j, c in enumerate(VL2_ADDED)]}
    return {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added,
            "additional_special_tokens": ["<|User|>", "<|Assistant|>"], "bos_token": BOS,
            "clean_up_tokenization_spaces": False, "eos_token": EOS, "model_max_length": 16384, "pad_token": PAD,
            "processor_class": "DeepseekVLV2Processor", "tokenizer_class": "LlamaTokenizer", "unk_token": None,
            "use_default_system_prompt": False}


# ---------------------------------------------------------------------------------------------
# Files


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def draw_image(w, h, phase):
    """A synthetic RGB picture: smooth gradients, a sine band pattern, flat shapes with hard edges."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 40 + 180 * x / (w - 1)
    g = 30 + 200 * y / (h - 1)
    b = 128 + 100 * np.sin((x + 2 * y) / 9.0 + phase)
    img = Image.fromarray(np.clip(np.stack([r, g, b], -1), 0, 255).round().astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.15, h * 0.2, w * 0.55, h * 0.75], fill=(250, 240, 30), outline=(20, 20, 20), width=2)
    d.rectangle([w * 0.6, h * 0.1, w * 0.9, h * 0.45], fill=(200, 30, 60))
    d.line([0, h - 1, w - 1, 0], fill=(255, 255, 255), width=3)
    d.polygon([(w * 0.62, h * 0.9), (w * 0.95, h * 0.9), (w * 0.78, h * 0.55)], fill=(20, 60, 200))
    return img


# name: (width, height, phase, the tiling the tiny candidate list gives it with cropping on)
IMAGES = {"image_a.png": (290, 200, 0.0, (3, 2)), "image_b.png": (200, 100, 1.5, (2, 1)),
          "image_c.png": (90, 170, 3.0, (1, 2))}


def write_images():
    for name, (w, h, phase, _) in IMAGES.items():
        draw_image(w, h, phase).save(os.path.join(OUT_DIR, name), "PNG", optimize=True)


def load_image(name):
    # As deepseek_vl2.utils.io.load_pil_images does.
    return Image.open(os.path.join(OUT_DIR, name)).convert("RGB")


def build_tokenizer_json():
    with open(TINY_TOKENIZER, encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    assert [vocab[c] for c in (BOS, EOS, PAD)] == [BOS_ID, EOS_ID, PAD_ID]
    kept = {k: i for k, i in vocab.items() if i < BPE_SIZE}
    merges = tok["model"]["merges"]
    # Merge r produces id 259 + r, so the first BPE_SIZE - 259 merges are exactly those whose parts
    # and result are kept: a prefix of the merge list.
    for r, m in enumerate(merges[:BPE_SIZE - 259]):
        a, b = m.split(" ")
        assert kept[a + b] == 259 + r and kept[a] < 259 + r and kept[b] < 259 + r
    assert all(vocab["".join(m.split(" "))] >= BPE_SIZE for m in merges[BPE_SIZE - 259:])
    tok["model"]["vocab"] = kept
    tok["model"]["merges"] = merges[:BPE_SIZE - 259]
    tok["model"].pop("ignore_merges", None)  # absent from deepseek-vl2's file (its default, false, applies)
    tok["added_tokens"] = ([added_token(i, c) for i, c in [(BOS_ID, BOS), (EOS_ID, EOS), (PAD_ID, PAD)]]
                           + [added_token(IMAGE_ID + j, c) for j, c in enumerate(VL2_ADDED)])
    return tok


def write_model_dir(folder, spec, tokenizer_json):
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), spec["config"])
    write_json(os.path.join(folder, "processor_config.json"), processor_config(CANDIDATES_TINY))
    write_json(os.path.join(folder, "tokenizer_config.json"), tokenizer_config())
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(tokenizer_json, ensure_ascii=False, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# Random weights


def init_weights(model, seed):
    """Seeded values for every parameter, in state_dict order.

    Matrices and conv kernels (the MoE router included): N(0, 1/fan_in). Biases: N(0, 0.1^2).
    LayerNorm / RMSNorm weights: 1 + N(0, 0.1^2). SigLIP pos_embed and attn_pool latent:
    N(0, 0.5^2). Token embeddings, image_newline, view_seperator: N(0, 1). lm_head:
    N(0, 16/fan_in), so that the logits spread enough for unambiguous greedy steps.
    e_score_correction_bias: uniform [0, 0.3).
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict(keep_vars=True).items():
            leaf = name.rsplit(".", 1)[-1]
            shape = tuple(p.shape)
            randn = lambda: torch.randn(shape, generator=gen, dtype=torch.float32)
            if name.endswith("embed_tokens.weight") or name in ("image_newline", "view_seperator"):
                v = randn()
            elif name.endswith("lm_head.weight"):
                v = 4.0 * randn() / math.sqrt(shape[1])
            elif leaf == "e_score_correction_bias":
                v = 0.3 * torch.rand(shape, generator=gen, dtype=torch.float32)
            elif leaf in ("pos_embed", "latent"):
                v = 0.5 * randn()
            elif leaf == "bias":
                v = 0.1 * randn()
            elif leaf == "weight" and len(shape) == 1:
                v = 1.0 + 0.1 * randn()
            elif leaf == "weight":
                v = randn() / math.sqrt(math.prod(shape[1:]))
            else:
                raise ValueError(f"no init rule for {name} {shape}")
            p.copy_(v)


# ---------------------------------------------------------------------------------------------
# Running the official code


CASES = [
    {"name": "tiles", "images": ["image_a.png"],
     "messages": [("<|User|>", IMAGE_TAG + "\nDescribe this picture in detail."), ("<|Assistant|>", "")]},
    {"name": "two", "images": ["image_b.png", "image_c.png"],
     "messages": [("<|User|>", "This is image_1: " + IMAGE_TAG + "\nThis is image_2: " + IMAGE_TAG
                   + "\n<|ref|>The red box<|/ref|>."), ("<|Assistant|>", "")]},
    {"name": "three", "images": ["image_a.png", "image_b.png", "image_c.png"],
     "messages": [("<|User|>", IMAGE_TAG + IMAGE_TAG + IMAGE_TAG + "\nWhich one is the widest?"),
                  ("<|Assistant|>", "")]},
    {"name": "text", "images": [],
     "messages": [("<|User|>", "Hello!"), ("<|Assistant|>", "Hi, how can I help?"),
                  ("<|User|>", "<|grounding|>What is 12345 + 678?"), ("<|Assistant|>", "")]},
]


class Recorder:
    """Forward hooks that keep module outputs (and inputs) by name, one entry per call."""

    def __init__(self):
        self.out = {}
        self.handles = []

    def output(self, module, key, fn=lambda i, o: o):
        def hook(_m, inp, out):
            v = fn(inp, out)
            v = tuple(x.detach().clone() for x in v) if isinstance(v, tuple) else v.detach().clone()
            self.out.setdefault(key, []).append(v)
        self.handles.append(module.register_forward_hook(hook))

    def close(self):
        for h in self.handles:
            h.remove()


def moe_layers(lm):
    return [i for i, layer in enumerate(lm.model.layers) if hasattr(layer.mlp, "gate")]


def router_check(gate, x, idx):
    """Diagnostics from the gate's input, computed here (not reference values): the smallest gap
    between the k-th and (k+1)-th choice score (and group score for noaux_tc), and whether the
    bias changed the chosen set. Asserts that the official choice equals this recomputation."""
    x = x.reshape(-1, x.shape[-1]).float()
    scores = F.linear(x, gate.weight.float())
    scores = scores.softmax(-1) if gate.scoring_func == "softmax" else scores.sigmoid()
    k = gate.top_k
    changed = 0
    if gate.topk_method == "greedy":
        choice = scores
        group_gap = math.inf
    else:
        choice = scores + gate.e_score_correction_bias[None]
        assert float(choice.min()) > 0  # so the 0.0 masking below never ranks a masked expert first
        g = choice.view(choice.shape[0], gate.n_group, -1).topk(2, dim=-1)[0].sum(-1)
        gs = g.sort(dim=-1, descending=True).values
        group_gap = float((gs[:, gate.topk_group - 1] - gs[:, gate.topk_group]).min())
        keep = torch.zeros_like(g).scatter_(1, g.topk(gate.topk_group, dim=-1)[1], 1)
        mask = keep.unsqueeze(-1).expand(-1, -1, gate.n_routed_experts // gate.n_group).reshape(choice.shape[0], -1)
        choice = choice.masked_fill(~mask.bool(), 0.0)
        # The same selection without the bias.
        g0 = scores.view(scores.shape[0], gate.n_group, -1).topk(2, dim=-1)[0].sum(-1)
        keep0 = torch.zeros_like(g0).scatter_(1, g0.topk(gate.topk_group, dim=-1)[1], 1)
        mask0 = keep0.unsqueeze(-1).expand(-1, -1, gate.n_routed_experts // gate.n_group).reshape(scores.shape[0], -1)
        nobias = scores.masked_fill(~mask0.bool(), 0.0).topk(k, dim=-1)[1].sort(-1).values
        changed = int((nobias != idx.sort(-1).values).any(-1).sum())
    cs = choice.sort(dim=-1, descending=True)
    gap = float((cs.values[:, k - 1] - cs.values[:, k]).min())
    assert torch.equal(cs.indices[:, :k].sort(-1).values, idx.sort(-1).values)
    return min(gap, group_gap), changed


def pixel_u8(pv):
    """The uint8 image each float32 tile came from: pv = (float32(u8) / 255 - 0.5) / 0.5 exactly
    (ToTensor, then Normalize(0.5, 0.5), both in float32)."""
    u8 = torch.round((pv.double() * 0.5 + 0.5) * 255).to(torch.uint8)
    assert torch.equal(pv, (u8.float() / 255 - 0.5) / 0.5)
    return u8


def run_case(model, processor, case, record=True):
    """Runs one prompt through the official code; returns (tensors, pixel tensors, info)."""
    conv = [{"role": r, "content": c} for r, c in case["messages"]]
    images = [load_image(n) for n in case["images"]]
    prep = processor(conversations=conv, images=images, force_batchify=True, system_prompt="")
    prep = prep.to("cpu", dtype=torch.float32)
    input_ids = prep.input_ids[0].clone()
    T = input_ids.shape[0]
    seq_mask = prep.images_seq_mask[0].clone()
    n_img = len(images)
    assert input_ids[0] == BOS_ID and bool(prep.attention_mask.all())
    assert torch.equal(seq_mask, input_ids == IMAGE_ID)

    lm = model.language
    rec = Recorder()
    if record:
        rec.output(model.vision, "vision")
        rec.output(model.projector, "projector")
        for i, layer in enumerate(lm.model.layers):
            rec.output(layer, f"language.layer.{i}", fn=lambda i_, o: o[0][0])
        rec.output(lm.model.norm, "language.norm", fn=lambda i_, o: o[0])
        for i in moe_layers(lm):
            rec.output(lm.model.layers[i].mlp.gate, f"moe.{i}", fn=lambda i_, o: (i_[0], o[0], o[1]))

    with torch.no_grad():
        inputs_embeds = model.prepare_inputs_embeds(**prep)
        out = lm(inputs_embeds=inputs_embeds, attention_mask=prep.attention_mask, use_cache=False)
    rec.close()
    logits = out.logits[0].float()
    r = rec.out
    info = {"sft_format": prep.sft_format[0], "images": case["images"], "num_tokens": T, "logits": logits}
    if not record:
        return None, None, info

    t = {"input_ids": input_ids.to(torch.int64), "images_seq_mask": seq_mask.to(torch.uint8)}
    px = {}
    if n_img:
        crop = prep.images_spatial_crop[0][:n_img].to(torch.int64)
        assert bool((crop > 0).all())
        n_tiles = int((1 + crop[:, 0] * crop[:, 1]).sum())
        t["images_spatial_crop"] = crop
        pv = prep.images[0][:n_tiles]
        assert pv.shape[0] == n_tiles and not bool(prep.images[0][n_tiles:].any())
        px["pixel_values.u8"] = pixel_u8(pv)
        (vision,), (proj,) = r.pop("vision"), r.pop("projector")
        assert vision.shape[:2] == (n_tiles, ((TILE - PATCH) // PATCH + 1) ** 2)
        t["vision"] = vision
        t["projector"] = proj
        info["num_image_tokens"] = [int(n) for n in prep_num_image_tokens(crop)]
        info["tiling"] = crop.tolist()
        assert int(seq_mask.sum()) == sum(info["num_image_tokens"])
    else:
        assert "vision" not in r and int(seq_mask.sum()) == 0
        r.pop("projector", None)
    t["inputs_embeds"] = inputs_embeds[0]
    if n_img:
        # The non-image rows are embed_tokens rows; the image rows come from the projector.
        emb = lm.get_input_embeddings()(input_ids)
        assert torch.equal(inputs_embeds[0][~seq_mask], emb[~seq_mask])
    # Decoder-layer outputs at the last HIDDEN_ROWS positions only, to keep the files small (each
    # depends on every earlier position; inputs_embeds and the routing cover all positions).
    rows = torch.arange(T - HIDDEN_ROWS, T, dtype=torch.int64)
    n_layers = len(lm.model.layers)
    for i in range(n_layers):
        (h,) = r.pop(f"language.layer.{i}")
        t[f"language.layer.{i}"] = h[rows].contiguous()
    (h,) = r.pop("language.norm")
    t["language.norm"] = h[rows].contiguous()
    t["hidden_positions"] = rows
    gaps, changed = [], 0
    for i in moe_layers(lm):
        ((x, idx, w),) = r.pop(f"moe.{i}")
        t[f"moe.{i}.topk_idx"] = idx.to(torch.int64)
        t[f"moe.{i}.topk_weight"] = w
        g, c = router_check(lm.model.layers[i].mlp.gate, x, idx)
        gaps.append(g)
        changed += c
    assert not r, sorted(r)
    positions = torch.arange(T - LOGIT_ROWS, T, dtype=torch.int64)
    t["logits"] = logits[positions].contiguous()
    t["logits_positions"] = positions

    # Greedy decoding as the official README does it (KV cache on).
    with torch.no_grad():
        gen = lm.generate(inputs_embeds=inputs_embeds, attention_mask=prep.attention_mask, pad_token_id=EOS_ID,
                          bos_token_id=BOS_ID, eos_token_id=EOS_ID, max_new_tokens=GREEDY_STEPS, do_sample=False,
                          use_cache=True, output_scores=True, return_dict_in_generate=True)
    greedy = gen.sequences[0]
    assert greedy.shape[0] == GREEDY_STEPS and EOS_ID not in greedy.tolist(), f"{case['name']}: EOS; change the seed"
    margins = []
    for s in gen.scores:
        top = torch.topk(s[0].float(), 2).values
        margins.append(float(top[0] - top[1]))
    assert int(greedy[0]) == int(torch.argmax(logits[-1]))
    # The same tokens without the cache: one forward over the prompt and the generated tokens.
    rec = Recorder()
    for i in moe_layers(lm):
        rec.output(lm.model.layers[i].mlp.gate, f"moe.{i}", fn=lambda i_, o: (i_[0], o[0]))
    with torch.no_grad():
        emb = torch.cat([inputs_embeds, lm.get_input_embeddings()(greedy[None, :-1])], dim=1)
        full = lm(inputs_embeds=emb, use_cache=False).logits[0]
    rec.close()
    assert torch.equal(torch.argmax(full[T - 1:], dim=-1), greedy)
    for i in moe_layers(lm):
        ((x, idx),) = rec.out[f"moe.{i}"]
        gaps.append(router_check(lm.model.layers[i].mlp.gate, x, idx)[0])
    t["greedy_ids"] = greedy.to(torch.int64)
    info.update({"min_greedy_margin": min(margins), "min_router_gap": min(gaps), "bias_changed": changed})
    return {k: v.contiguous() for k, v in t.items()}, px, info


def prep_num_image_tokens(crop):
    h = w = math.ceil((TILE // PATCH) / DOWNSAMPLE)
    return [h * (w + 1) + 1 + (nh * h) * (nw * w + 1) for nw, nh in crop.tolist()]


# ---------------------------------------------------------------------------------------------
# tiling.json


TILING_SIZES = [
    (1, 1), (2, 3), (14, 14), (60, 45), (90, 170), (100, 100), (102, 102), (103, 103), (200, 100), (290, 200),
    (383, 383), (384, 384), (385, 385), (500, 500), (640, 480), (480, 640), (640, 360), (360, 640), (769, 384),
    (768, 768), (800, 600), (1000, 1000), (1000, 333), (1024, 768), (768, 1024), (1152, 1152), (1153, 1153),
    (1500, 500), (500, 1500), (1920, 1080), (1080, 1920), (2304, 1536), (3000, 1000), (3456, 384), (384, 3456),
    (4000, 3000), (4096, 4096), (5000, 200), (200, 5000), (8000, 100), (100, 8000), (2000, 1), (1, 2000),
    (9000, 6000),
]


def tiling_json(tok):
    out = {"about": ("select_best_resolution and the image-token count of the official DeepseekVLV2Processor "
                     "(tokenize_with_images with cropping on, as for a request with at most 2 images; with 3 or more "
                     "images every image gets best = (tile, tile), 1x1). best is (width, height) from the candidate "
                     "list; tiles = [width_tiles, height_tiles]; num_tiles counts the global view; "
                     "num_image_tokens is the number of <image> ids the processor inserts. Images are solid "
                     "grey PIL RGB images of the given size; the choice depends only on the size. error: the "
                     "processor raised (select_best_resolution still chose best and tiles)."),
           "code": VL2_CODE, "lists": {}}
    for name, cands in (("released_384", CANDIDATES_384), ("tiny_102", CANDIDATES_TINY)):
        proc = DeepseekVLV2Processor(tokenizer=tok, candidate_resolutions=[list(c) for c in cands], patch_size=PATCH,
                                     downsample_ratio=DOWNSAMPLE)
        rows = []
        for w, h in TILING_SIZES:
            best = select_best_resolution((w, h), proc.candidate_resolutions)
            img = Image.new("RGB", (w, h), (90, 90, 90))
            row = {"size": [w, h], "best": list(best), "tiles": [best[0] // cands[0][0], best[1] // cands[0][0]]}
            try:
                ids, imgs, mask, crop, n_tok = proc.tokenize_with_images(IMAGE_TAG, [img], bos=False, eos=False,
                                                                         cropping=True)
            except ValueError as e:
                # ImageOps.pad scales the short side to round(short / long * side), which is 0 for
                # extreme aspect ratios; Pillow's resize then refuses the empty size.
                row["error"] = f"ValueError: {e}"
                rows.append(row)
                continue
            assert len(crop) == 1 and crop[0] == row["tiles"]
            assert len(imgs) == 1 + crop[0][0] * crop[0][1] and sum(mask) == n_tok[0] == len(ids)
            row.update({"num_tiles": len(imgs), "num_image_tokens": n_tok[0]})
            rows.append(row)
        out["lists"][name] = {"tile": cands[0][0], "patch_size": PATCH, "downsample_ratio": DOWNSAMPLE,
                              "tokens_per_tile_side": math.ceil((cands[0][0] // PATCH) / DOWNSAMPLE),
                              "candidate_resolutions": [list(c) for c in cands], "cases": rows}
    return out


# ---------------------------------------------------------------------------------------------
# README


TENSOR_DOCS = [
    ("input_ids", "token ids from DeepseekVLV2Processor [T]: BOS first, each `<image>` tag replaced by its run of "
                  "image ids (640), the final EOS removed (inference_mode)"),
    ("images_seq_mask", "the processor's images_seq_mask as uint8 [T]: 1 at the image-token positions (exactly "
                        "where input_ids is 640)"),
    ("images_spatial_crop", "[n_images, 2] = [width_tiles, height_tiles] per image (absent in `text`)"),
    ("vision", "SigLIP tower output for every tile [n_tiles, 49, 32] (7x7 patches row-major, after the final "
               "LayerNorm); tiles in processor order: per image the global view, then the local tiles row-major"),
    ("projector", "projector output [n_tiles, 16, 64]: 7x7 zero-padded to 8x8, 2x2 unfold (feature c*4 + kh*2 + kw), "
                  "Linear 128->64, exact GELU, Linear 64->64; 4x4 tokens row-major"),
    ("inputs_embeds", "prepare_inputs_embeds output [T, 64]: embed_tokens(input_ids) with the image rows replaced, "
                      "per image, by [global 4x4 tokens with image_newline after each row of 4] [view_seperator] "
                      "[local grid (4*h_tiles) x (4*w_tiles) with image_newline after each row]"),
    ("language.layer.i", f"output of decoder layer i (residual stream, before the final norm) at the positions in "
                         f"hidden_positions [{HIDDEN_ROWS}, 64]; layer 0 has the dense MLP, layers 1 and 2 the MoE"),
    ("language.norm", f"final RMSNorm output at the positions in hidden_positions [{HIDDEN_ROWS}, 64]"),
    ("hidden_positions", f"the positions that language.layer.i and language.norm hold (the last {HIDDEN_ROWS}: each "
                         f"depends on all earlier positions; the full rows are left out to keep the files small)"),
    ("moe.i.topk_idx", "MoE layer i: the routed experts per token [T, 3] as MoEGate returns them (torch.topk "
                       "sorted=False: compare as sets, paired with topk_weight)"),
    ("moe.i.topk_weight", "MoE layer i: the weight of each expert in topk_idx [T, 3] (after norm_topk_prob and "
                          "routed_scaling_factor)"),
    ("logits", f"lm_head output (float32) at the positions in logits_positions (the last {LOGIT_ROWS}) "
               f"[{LOGIT_ROWS}, {LM_VOCAB}]"),
    ("logits_positions", "the positions that logits holds"),
    ("greedy_ids", f"language.generate(inputs_embeds=..., do_sample=False, use_cache=True, "
                   f"max_new_tokens={GREEDY_STEPS}): the new token ids (no EOS among them; equal to an uncached "
                   f"greedy re-run; top-1 beats top-2 by more than {MIN_GREEDY_MARGIN} at every step; at least "
                   f"{MIN_DISTINCT_GREEDY} distinct ids)"),
]


def dtype_name(t):
    return {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}[t.dtype]


def describe_sizes(spec):
    c = spec["config"]
    v, p, lm = c["vision_config"], c["projector_config"], c["language_config"]
    g = (v["image_size"] - v["patch_size"]) // v["patch_size"] + 1
    lines = [f"SigLIP at {v['image_size']} px: patch {v['patch_size']} ({g}x{g} = {g * g} tokens), width {v['width']}, "
             f"{v['layers']} blocks, {v['heads']} heads (head_dim {v['width'] // v['heads']}), MLP "
             f"{int(v['width'] * v['mlp_ratio'])}, GELU tanh, LayerNorm eps 1e-6, final norm",
             f"projector `{p['projector_type']}`: {p['input_dim']}*4 -> {p['n_embed']}, GELU, {p['n_embed']} -> "
             f"{p['n_embed']}; image_newline and view_seperator [{p['n_embed']}]"]
    if lm.get("use_mla", True):
        att = (f"MLA: {lm['num_attention_heads']} heads, q_proj {lm['hidden_size']} -> "
               f"{lm['num_attention_heads']}*({lm['qk_nope_head_dim']}+{lm['qk_rope_head_dim']}), kv_lora_rank "
               f"{lm['kv_lora_rank']}, qk_rope {lm['qk_rope_head_dim']} (interleaved), v {lm['v_head_dim']}, "
               f"softmax scale {lm['qk_nope_head_dim'] + lm['qk_rope_head_dim']}^-0.5")
    else:
        att = (f"MHA (LlamaAttention): {lm['num_attention_heads']} heads x "
               f"{lm['hidden_size'] // lm['num_attention_heads']}, rotate-half RoPE")
    moe = (f"MoE: {lm['n_routed_experts']} experts x {lm['moe_intermediate_size']} + shared "
           f"{lm['n_shared_experts']}x{lm['moe_intermediate_size']}, top-{lm['num_experts_per_tok']}, "
           f"{lm['scoring_func']}, {lm['topk_method']}")
    if lm["topk_method"] == "noaux_tc":
        moe += f" (n_group {lm['n_group']}, topk_group {lm['topk_group']})"
    moe += f", norm_topk_prob {str(lm['norm_topk_prob']).lower()}, routed_scaling_factor {lm['routed_scaling_factor']}"
    lines.append(f"language: hidden {lm['hidden_size']}, {lm['num_hidden_layers']} layers (layer 0 dense MLP "
                 f"{lm['intermediate_size']}, then MoE), vocab {lm['vocab_size']}, untied lm_head, RMSNorm eps 1e-6, "
                 f"RoPE theta 10000; {att}; {moe}")
    return lines


def readme(summaries, tables, pixel_table):
    L = []
    L.append("# DeepSeek-VL2 reference fixtures")
    L.append("")
    L.append("Written by `tools/reference/deepseek_vl2.py`, which builds three tiny DeepSeek-VL2 models with random")
    L.append("weights in the official checkpoint format and records what the official code")
    L.append(f"({VL2_CODE['repository']} at {VL2_CODE['commit'][:12]}) computes with them, in float32 on CPU.")
    L.append("Do not edit these files by hand; re-run the script.")
    L.append("")
    L.append("| file | what |")
    L.append("|---|---|")
    for name, (w, h, _, (nw, nh)) in IMAGES.items():
        L.append(f"| `{name}` | {w}x{h} test image; with cropping on the tiny candidate list tiles it {nw}x{nh} |")
    L.append("| `pixel_values.safetensors` | the processor's pixel values per case, the same for the three variants "
             "(see below) |")
    L.append("| `tiling.json` | the official processor's best resolution, tiles, tile count and image-token count for "
             f"{len(TILING_SIZES)} image sizes, with the released 384-px candidate list and the tiny 102-px one |")
    L.append("| `<variant>/config.json`, `model.safetensors`, `processor_config.json`, `tokenizer.json`, "
             "`tokenizer_config.json` | a model directory as on the Hugging Face hub (float32 weights) |")
    L.append("| `<variant>/reference.safetensors` | tensors the official code computed; names `<case>.<tensor>` |")
    L.append("")
    L.append(f"The tile is {TILE} px (released: 384): patch 14 gives 7x7 patches (pixels 98-101 of each row and column")
    L.append("are never read), zero-padded to 8x8 by the projector, so 4x4 = 16 tokens per tile. candidate_resolutions")
    L.append(f"is the released list in its order with every side scaled by {TILE}/384. Per image the processor inserts")
    L.append("4*5 + 1 + (4*h_tiles)*(4*w_tiles + 1) image ids. config.json sets vision_config image_size and heads,")
    L.append("projector_config input_dim and tile_tag, which the released configs leave to class defaults.")
    L.append("The official SigLIP uses GELU with the tanh approximation; the projector's GELU is exact.")
    L.append("")
    L.append("The tokenizer is `tests/data/tokenizer/tiny-deepseek-v3` cut to its first 640 ids (the first 381 merges)")
    L.append("with deepseek-vl2's added tokens: BOS `<｜begin▁of▁sentence｜>` 0, EOS `<｜end▁of▁sentence｜>` 1, pad")
    L.append("`<｜▁pad▁｜>` 2, `<image>` 640, `<|ref|>` 641, `<|/ref|>` 642, `<|det|>` 643, `<|/det|>` 644,")
    L.append(f"`<|grounding|>` 645, `<|User|>` 646, `<|Assistant|>` 647. The LM has {LM_VOCAB} embedding rows.")
    L.append("")
    L.append("## pixel_values.safetensors")
    L.append("")
    L.append("`<case>.pixel_values.u8` [n_tiles, 3, 102, 102] uint8: the tiles the vision tower receives, in order")
    L.append("(per image the global view `ImageOps.pad(image, (102, 102), color=(127, 127, 127))`, then the local")
    L.append("tiles of `ImageOps.pad(image, best)` row-major). The float32 pixel values are exactly")
    L.append("`(float32(u8) / 255 - 0.5) / 0.5` (ToTensor then Normalize(0.5, 0.5), in float32); the script checks it.")
    L.append("")
    L.append("| tensor | dtype | shape |")
    L.append("|---|---|---|")
    for name, t in pixel_table.items():
        L.append(f"| `{name}` | {dtype_name(t)} | {list(t.shape)} |")
    L.append("")
    L.append("## Tensors in reference.safetensors")
    L.append("")
    L.append("Every case has every tensor below, except that `text` (no image) has no images_spatial_crop, vision")
    L.append("or projector. Names are `<case>.<tensor>`.")
    L.append("")
    L.append("| tensor | meaning |")
    L.append("|---|---|")
    for k, v in TENSOR_DOCS:
        L.append(f"| `{k}` | {v} |")
    L.append("")
    L.append("Cases (the same prompts and ids for every variant; the processor is called with `conversations=`,")
    L.append("`system_prompt=\"\"`):")
    L.append("")
    first = next(iter(summaries.values()))
    for c in first["cases"]:
        tiling = ", ".join(f"{w}x{h}" for w, h in c.get("tiling", [])) or "none"
        L.append(f"- `{c['name']}`: images {', '.join('`' + i + '`' for i in c['images']) or 'none'} "
                 f"(tiles {tiling}; image tokens {c.get('num_image_tokens', [])}); {c['num_tokens']} tokens; "
                 f"sft_format: `{json.dumps(c['sft_format'], ensure_ascii=False)[1:-1]}`")
    for variant, s in summaries.items():
        L.append("")
        L.append(f"## {variant}")
        L.append("")
        L.append(s["about"] + ".")
        L.append("")
        for line in describe_sizes(VARIANTS[variant]):
            L.append(f"- {line}")
        L.append("")
        L.append("| tensor | dtype | shape |")
        L.append("|---|---|---|")
        for name, t in tables[variant].items():
            L.append(f"| `{name}` | {dtype_name(t)} | {list(t.shape)} |")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "timm": timm.__version__,
            "pillow": PIL.__version__, "safetensors": safetensors.__version__}


def build_variant(name, spec, tokenizer_json):
    folder = os.path.join(OUT_DIR, name)
    write_model_dir(folder, spec, tokenizer_json)

    torch.manual_seed(spec["seed"])
    model = DeepseekVLV2ForCausalLM(DeepseekVLV2Config(**spec["config"])).eval()
    lc = model.language.config
    assert lc.rms_norm_eps == 1e-6 and lc.rope_theta == 10000.0 and lc.rope_scaling is None
    assert not lc.tie_word_embeddings and lc._attn_implementation == "eager"
    init_weights(model, spec["seed"])
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})

    processor = DeepseekVLV2Processor.from_pretrained(folder)
    tok = processor.tokenizer
    assert processor.image_token_id == IMAGE_ID and tok.bos_token_id == BOS_ID and tok.eos_token_id == EOS_ID
    assert tok.pad_token_id == PAD_ID and len(tok) == IMAGE_ID + len(VL2_ADDED)
    assert [tok.convert_tokens_to_ids(c) for c in VL2_ADDED] == list(range(IMAGE_ID, IMAGE_ID + len(VL2_ADDED)))
    assert processor.image_size == TILE and processor.candidate_resolutions == [list(c) for c in CANDIDATES_TINY]

    tensors, pixels, infos = {}, {}, []
    for case in CASES:
        t, px, info = run_case(model, processor, case)
        for k, v in t.items():
            tensors[f"{case['name']}.{k}"] = v
        for k, v in px.items():
            pixels[f"{case['name']}.{k}"] = v
        infos.append((case, info))
        if case["images"] and len(case["images"]) <= 2:
            assert info["tiling"] == [list(IMAGES[n][3]) for n in case["images"]], info["tiling"]

    # The directory must load with the official from_pretrained and give the same numbers.
    reloaded, loading = DeepseekVLV2ForCausalLM.from_pretrained(folder, output_loading_info=True)
    reloaded.eval()
    assert not any(loading.values()), loading
    file_keys = set(load_file(os.path.join(folder, "model.safetensors")).keys())
    assert file_keys == set(reloaded.state_dict().keys()), file_keys ^ set(reloaded.state_dict().keys())
    processor2 = DeepseekVLV2Processor.from_pretrained(folder)
    for case, info in infos:
        _, _, info2 = run_case(reloaded, processor2, case, record=False)
        assert torch.equal(info["logits"], info2["logits"]), case["name"]

    # One metadata entry: safetensors writes the metadata map in no fixed order.
    about = {"reference": "official DeepSeek-VL2 code", "code": VL2_CODE, "versions": versions(),
             "image_token_id": IMAGE_ID, "tile": TILE, "pixel_values": "../pixel_values.safetensors",
             "cases": [{"name": case["name"], "images": info["images"], "sft_format": info["sft_format"],
                        "num_tokens": info["num_tokens"], "tiling": info.get("tiling", []),
                        "num_image_tokens": info.get("num_image_tokens", [])} for case, info in infos]}
    save_file(tensors, os.path.join(folder, "reference.safetensors"),
              metadata={"dsvl_reference": json.dumps(about, ensure_ascii=False, sort_keys=True)})

    summary = {"about": spec["about"], "cases": [
        {"name": c["name"], "images": i["images"], "num_tokens": i["num_tokens"], "sft_format": i["sft_format"],
         "tiling": i.get("tiling", []), "num_image_tokens": i.get("num_image_tokens", []),
         "min_greedy_margin": i["min_greedy_margin"], "min_router_gap": i["min_router_gap"],
         "bias_changed": i["bias_changed"]} for c, i in infos]}
    return summary, tensors, pixels, state, processor.tokenizer


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    write_images()
    tokenizer_json = build_tokenizer_json()
    summaries, tables, pixel_table, tok = {}, {}, None, None
    failures = []
    for name, spec in VARIANTS.items():
        summary, tensors, pixels, state, tok = build_variant(name, spec, tokenizer_json)
        if pixel_table is None:
            pixel_table = pixels
        else:
            assert pixels.keys() == pixel_table.keys() and all(torch.equal(pixels[k], pixel_table[k]) for k in pixels)
        summaries[name], tables[name] = summary, tensors
        n_params = sum(v.numel() for v in state.values())
        print(f"{name}: {n_params} parameters, {len(tensors)} reference tensors; "
              + ", ".join(f"{c['name']} T={c['num_tokens']} margin={c['min_greedy_margin']:.3g} "
                          f"router_gap={c['min_router_gap']:.3g} bias_changed={c['bias_changed']}"
                          for c in summary["cases"]))
        for c in summary["cases"]:
            if (c["min_greedy_margin"] <= MIN_GREEDY_MARGIN or c["min_router_gap"] <= MIN_ROUTER_GAP
                    or len(set(tensors[c["name"] + ".greedy_ids"].tolist())) < MIN_DISTINCT_GREEDY):
                failures.append((name, c["name"], c["min_greedy_margin"], c["min_router_gap"]))
        if spec["config"]["language_config"]["topk_method"] == "noaux_tc":
            assert all(c["bias_changed"] > 0 for c in summary["cases"]), "the bias changes no choice"
    assert not failures, f"near ties, change the seed: {failures}"
    save_file(pixel_table, os.path.join(OUT_DIR, "pixel_values.safetensors"),
              metadata={"dsvl_reference": json.dumps({"reference": "official DeepSeek-VL2 processor", "code": VL2_CODE,
                                                      "versions": versions()}, sort_keys=True)})
    write_json(os.path.join(OUT_DIR, "tiling.json"), tiling_json(tok))
    with open(os.path.join(OUT_DIR, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(summaries, tables, pixel_table))
    total = 0
    for root, _, files in sorted(os.walk(OUT_DIR)):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            total += os.path.getsize(p)
            print(f"  {os.path.relpath(p, REPO)}: {os.path.getsize(p)} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
