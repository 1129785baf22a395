"""End-to-end reference fixtures for DeepSeek-VL (v1): tiny random-weight models run by the official code.

Writes tests/data/deepseek_vl/:

    image.png, image2.png        the test images (224x160 landscape, 54x80 portrait), drawn here
    vision_models.json           the official vision-tower name tables (SigLIP_MODEL_CONFIG,
                                 SAM_MODEL_CONFIG) with the three tiny entries this script adds,
                                 and the sizes the official code fixes in code
    README.md                    what every file and tensor is (generated: shapes and dtypes)
    tiny-siglip/                 the DeepSeek-VL-1.3B architecture: CLIPVisionTower (SigLIP ViT),
                                 `mlp_gelu` aligner, LLaMA decoder
    tiny-hybrid/                 the DeepSeek-VL-7B architecture: HybridVisionTower (SAM ViTDet
                                 high-res branch at 1024 + SigLIP low-res branch at 384),
                                 `low_high_hybrid_split_mlp_gelu` aligner, LLaMA decoder

Each variant folder is a model directory in the layout of the official Hugging Face repositories
(deepseek-ai/deepseek-vl-{1.3b,7b}-chat): config.json (model_type "multi_modality" with nested
vision_config / aligner_config / language_config), model.safetensors (the official tensor names,
float32), processor_config.json, preprocessor_config.json, tokenizer.json and
tokenizer_config.json; plus reference.safetensors, what the official code computed from it for
two prompts (the README lists every tensor): input ids, pixel values, the intermediates of both
vision branches, the aligner output, the decoder's hidden states, logits at the last positions and
32 greedy tokens.

How the tiny models run in the official code (nothing in it is edited):

  - The official vision towers take their sizes from name tables: `create_siglip_vit` looks up
    `model_name` in `deepseek_vl.models.siglip_vit.SigLIP_MODEL_CONFIG` (width, layers, heads,
    patch_size, mlp_ratio, global_pool) and `create_sam_vit` in
    `deepseek_vl.models.sam.SAM_MODEL_CONFIG` (width, layers, heads, global_attn_indexes,
    downsample_channels; `prompt_embed_dim`, the neck width, is a field of the same `SAMViTCfg`).
    This script adds three entries to those dicts at run time (register_tiny_models):
    "siglip_tiny_patch16_192", "siglip_tiny_patch16_384" and "sam_tiny_downsample", and the
    config.json files name them. Loading the model directories with the official code needs the
    same registration first (import this script and call register_tiny_models()).
  - Everything else is the official configuration path: MultiModalityConfig from config.json,
    MultiModalityCausalLM(config), VLChatProcessor.from_pretrained(dir) (VLMImageProcessor from
    preprocessor_config.json, LlamaTokenizerFast from the tokenizer files, the "deepseek" chat
    template with the default system prompt), `prepare_inputs_embeds`, the LlamaForCausalLM
    forward and `language_model.generate` as the official README calls it.
  - What the official code fixes in code stays as it is: SAM's window size 14, patch 16, MLP ratio 4
    and LayerNorm eps 1e-6, its 96x96 bilinear resize before `downsamples`, the HD path through
    `neck_hd` from the first global-attention block, SigLIP's LayerNorm eps 1e-6 and exact GELU,
    the hybrid tower's `Resize(low_res image_size, antialias=True)`. The hybrid therefore keeps the
    real resolutions, 1024 for SAM and 384 for SigLIP, and 576 image tokens (24x24); only widths,
    depths and heads are small. tiny-siglip runs its SigLIP at 192 (144 image tokens, set by
    image_size in config.json and preprocessor_config.json and num_image_tokens in
    processor_config.json) to keep the files small.
  - Weights are random (seeded), with scales that keep activations O(1), and every parameter is
    set, including those the official init leaves at zero (SAM's rel_pos tables and pos_embed,
    `hd_alpha_downsamples`, LayerNorm affines), so that each of them changes the outputs. Unused
    tensors the official module tree holds (SigLIP `attn_pool.*`, the hybrid tower's
    `high_layer_norm` / `low_layer_norm`) are written too, as the official save_pretrained
    would write them.
  - language_config sets max_position_embeddings 2048 instead of the released 16384:
    transformers 4.38 builds a [max_position_embeddings]^2 causal mask on every forward call.
  - The run is float32 on CPU, one thread, deterministic algorithms (the official demos run bf16 on
    GPU). The script then reloads each directory with `MultiModalityCausalLM.from_pretrained` and
    `VLChatProcessor.from_pretrained` and checks that the reloaded model gives bit-identical logits,
    that the file holds exactly the model's state_dict, and that the KV-cached greedy tokens equal
    an uncached re-run. Re-running the script reproduces every file byte for byte.

Tokenizer: tests/data/tokenizer/tiny-deepseek-llm/tokenizer.json (a 2000-token byte-level BPE with
the DeepSeek-LLM pre-tokenizer) with its added tokens cut down to what DeepSeek-VL's tokenizer has,
at the same offsets from the end of the BPE vocabulary: BOS 2000, EOS 2001, the 13 Latin-1
symbols 2002-2014, and `<image_placeholder>` 2015 (special, no strip flags, normalized false, as in
deepseek-vl's tokenizer.json, where they are 100000-100015). The LM vocab_size is 2048 (rows
2016-2047 unused, as 100016-102399 are in the real models).

The official code is not on PyPI. Get it from GitHub and install it in a virtual environment
outside this repository (torch 2.0.1 as DeepSeek-VL's requirements.txt pins it, torchvision to match,
transformers and timm at the minimum versions it asks for; attrdict 2.0.1 imports on
Python >= 3.10 because deepseek_vl patches `collections`):

    git clone https://github.com/deepseek-ai/DeepSeek-VL /tmp/DeepSeek-VL
    git -C /tmp/DeepSeek-VL checkout 681bffb4519856ad27cc17531aacde31ddf6f1a7
    python3.11 -m venv /tmp/dsvl-ref && . /tmp/dsvl-ref/bin/activate
    pip install torch==2.0.1 torchvision==0.15.2 transformers==4.38.2 tokenizers==0.15.2 \\
        "numpy<2" pillow==10.2.0 timm==0.9.16 einops attrdict==2.0.1 sentencepiece \\
        accelerate==0.27.2 safetensors
    pip install --no-deps /tmp/DeepSeek-VL

Then, from the repository root (under a minute on one CPU core):

    python tools/reference/deepseek_vl_v1.py
"""

import copy
import json
import math
import os
import sys

import numpy as np
import PIL
import safetensors
import timm
import tokenizers
import torch
import torchvision
import transformers
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

import deepseek_vl.models.sam as official_sam
import deepseek_vl.models.siglip_vit as official_siglip
from deepseek_vl.models import MultiModalityCausalLM, VLChatProcessor
from deepseek_vl.models.modeling_vlm import MultiModalityConfig

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(REPO, "tests", "data", "deepseek_vl")
TINY_TOKENIZER = os.path.join(REPO, "tests", "data", "tokenizer", "tiny-deepseek-llm", "tokenizer.json")

VL1_CODE = {"repository": "github.com/deepseek-ai/DeepSeek-VL", "commit": "681bffb4519856ad27cc17531aacde31ddf6f1a7"}

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
IMAGE_TAG = "<image_placeholder>"
BOS_ID, EOS_ID, IMAGE_ID = 2000, 2001, 2015
LM_VOCAB = 2048
GREEDY_STEPS = 32
LOGIT_ROWS = 8           # logits are kept for the last LOGIT_ROWS positions of each prompt
MIN_GREEDY_MARGIN = 1e-2  # top-1 minus top-2 logit at every greedy step, so an engine's argmax is unambiguous

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# ---------------------------------------------------------------------------------------------
# Tiny vision towers: entries for the official name tables.

TINY_SIGLIP_TABLE = {
    # tiny-siglip's tower (the 1.3B's is siglip_large_patch16_384: width 1024, 24 layers, 16 heads).
    "siglip_tiny_patch16_192": {"image_size": 192, "patch_size": 16, "width": 32, "layers": 3, "heads": 4,
                                "mlp_ratio": 4, "global_pool": "map", "use_checkpoint": False},
    # tiny-hybrid's low-res tower.
    "siglip_tiny_patch16_384": {"image_size": 384, "patch_size": 16, "width": 32, "layers": 2, "heads": 2,
                                "mlp_ratio": 4, "global_pool": "map", "use_checkpoint": False},
}
TINY_SAM_TABLE = {
    # tiny-hybrid's high-res tower (the 7B's is sam_b_downsample: width 768, 12 layers, 12 heads,
    # global blocks [2, 5, 8, 11], neck 256, downsample_channels (512, 1024)). Here every block
    # index i with i % 2 == 1 is global, so the HD tap (the first global block) is block 1.
    "sam_tiny_downsample": {"width": 16, "layers": 4, "heads": 2, "global_attn_indexes": [1, 3],
                            "downsample_channels": [24, 32], "prompt_embed_dim": 8},
}


def register_tiny_models():
    """Add the tiny vision towers to the official name tables (needed before loading the folders)."""
    official_siglip.SigLIP_MODEL_CONFIG.update(copy.deepcopy(TINY_SIGLIP_TABLE))
    official_sam.SAM_MODEL_CONFIG.update(copy.deepcopy(TINY_SAM_TABLE))


# ---------------------------------------------------------------------------------------------
# The two model directories.

def language_config(hidden, heads, layers, intermediate):
    # rms_norm_eps and rope_theta are left out, as in the released language_config; LlamaConfig's
    # defaults apply (1e-6 and 10000.0). max_position_embeddings is 2048, not the released 16384:
    # transformers 4.38 builds a [max_position_embeddings]^2 causal mask on every forward call.
    return {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "hidden_size": hidden, "intermediate_size": intermediate,
            "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": heads,
            "num_hidden_layers": layers, "num_key_value_heads": heads, "torch_dtype": "float32",
            "vocab_size": LM_VOCAB}


def top_config(vision, aligner, language):
    return {"aligner_config": aligner, "architectures": ["MultiModalityCausalLM"], "language_config": language,
            "model_type": "multi_modality", "torch_dtype": "float32", "transformers_version": transformers.__version__,
            "vision_config": vision}


VARIANTS = {
    "tiny-siglip": {
        "about": "DeepSeek-VL-1.3B architecture: CLIPVisionTower (SigLIP ViT), mlp_gelu aligner, LLaMA decoder",
        "seed": 1325,
        "config": top_config(
            {"cls": "CLIPVisionTower", "model_type": "vision",
             "params": {"image_size": 192, "model_name": "siglip_tiny_patch16_192", "pixel_mean": [0.5, 0.5, 0.5],
                        "pixel_std": [0.5, 0.5, 0.5], "select_feature": "same", "select_layer": -1}},
            {"cls": "MlpProjector", "model_type": "aligner",
             "params": {"depth": 2, "input_dim": 32, "n_embed": 32, "projector_type": "mlp_gelu"}},
            language_config(hidden=32, heads=2, layers=3, intermediate=88)),
        # Like the 1.3B: the processor does not normalize; the tower normalizes with 0.5 / 0.5.
        "preprocessor": {"background_color": [127, 127, 127], "do_normalize": False, "image_mean": [0.5, 0.5, 0.5],
                         "image_processor_type": "VLMImageProcessor", "image_size": 192,
                         "image_std": [0.5, 0.5, 0.5], "min_size": 14, "processor_class": "VLChatProcessor",
                         "rescale_factor": 0.00392156862745098},
        "num_image_tokens": 144,
        "cases": [
            {"name": "one_image", "system_prompt": None,
             "messages": [("User", IMAGE_TAG + "Describe this image."), ("Assistant", "")],
             "images": ["image.png"], "intermediates": True},
            {"name": "image_mid_text", "system_prompt": "",
             "messages": [("User", "Hello!"), ("Assistant", "Hi! How can I help?"),
                          ("User", "What is in " + IMAGE_TAG + " on the left?"), ("Assistant", "")],
             "images": ["image2.png"], "intermediates": False},
        ],
    },
    "tiny-hybrid": {
        "about": ("DeepSeek-VL-7B architecture: HybridVisionTower (SAM ViTDet at 1024 + SigLIP ViT at 384), "
                  "low_high_hybrid_split_mlp_gelu aligner, LLaMA decoder"),
        "seed": 7011,
        "config": top_config(
            {"cls": "HybridVisionTower", "model_type": "vision",
             "params": {"concat_type": "tuple", "freeze_high": True, "freeze_low": True,
                        "high_res_cfg": {"ckpt_path": "", "image_size": 1024, "model_name": "sam_tiny_downsample",
                                         "output_dim": 32, "pixel_mean": CLIP_MEAN, "pixel_std": CLIP_STD,
                                         "select_feature": "same", "select_layer": -1},
                        "low_res_cfg": {"ckpt_path": "", "image_size": 384, "model_name": "siglip_tiny_patch16_384",
                                        "output_dim": 32, "pixel_mean": [0.5, 0.5, 0.5], "pixel_std": [0.5, 0.5, 0.5],
                                        "select_feature": "same", "select_layer": -1}}},
            {"cls": "MlpProjector", "model_type": "aligner",
             "params": {"depth": 2, "input_dim": 32, "n_embed": 32, "projector_type": "low_high_hybrid_split_mlp_gelu"}},
            language_config(hidden=32, heads=2, layers=2, intermediate=86)),
        # deepseek-vl-7b-chat's preprocessor_config.json.
        "preprocessor": {"background_color": [122, 116, 104], "do_normalize": False, "image_mean": CLIP_MEAN,
                         "image_processor_type": "VLMImageProcessor", "image_size": 1024, "image_std": CLIP_STD,
                         "min_size": 14, "processor_class": "VLChatProcessor", "rescale_factor": 0.00392156862745098},
        "num_image_tokens": 576,
        "cases": [
            {"name": "one_image", "system_prompt": None,
             "messages": [("User", IMAGE_TAG + "Describe this image."), ("Assistant", "")],
             "images": ["image.png"], "intermediates": True},
            {"name": "two_images", "system_prompt": "",
             "messages": [("User", "This is image_1: " + IMAGE_TAG + "\nThis is image_2: " + IMAGE_TAG
                           + "\nWhich one is brighter?"), ("Assistant", "")],
             "images": ["image.png", "image2.png"], "intermediates": False},
        ],
    },
}


def processor_config(num_image_tokens):
    return {"add_special_token": False, "ignore_id": -100, "image_tag": IMAGE_TAG, "mask_prompt": True,
            "num_image_tokens": num_image_tokens, "processor_class": "VLChatProcessor", "sft_format": "deepseek"}


TOKENIZER_CONFIG = {"add_bos_token": True, "add_eos_token": False, "bos_token": BOS, "clean_up_tokenization_spaces": False,
                    "eos_token": EOS, "legacy": True, "model_max_length": 16384, "pad_token": None,
                    "tokenizer_class": "LlamaTokenizerFast", "unk_token": None}


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


IMAGES = {"image.png": (224, 160, 0.0), "image2.png": (54, 80, 1.5)}


def write_images():
    for name, (w, h, phase) in IMAGES.items():
        draw_image(w, h, phase).save(os.path.join(OUT_DIR, name), "PNG", optimize=True)


def load_image(name):
    # As deepseek_vl.utils.io.load_pil_images does.
    return Image.open(os.path.join(OUT_DIR, name)).convert("RGB")


def build_tokenizer_json():
    with open(TINY_TOKENIZER, encoding="utf-8") as f:
        tok = json.load(f)
    tok["model"].pop("ignore_merges", None)  # absent from DeepSeek-LLM's file (its default, false, applies)
    added = [t for t in tok["added_tokens"] if BOS_ID <= t["id"] < IMAGE_ID]
    assert [t["id"] for t in added] == list(range(BOS_ID, IMAGE_ID))
    assert added[0]["content"] == BOS and added[1]["content"] == EOS
    added.append({"id": IMAGE_ID, "content": IMAGE_TAG, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True})
    tok["added_tokens"] = added
    assert max(tok["model"]["vocab"].values()) == BOS_ID - 1
    return tok


def write_model_dir(folder, spec, tokenizer_json):
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), spec["config"])
    write_json(os.path.join(folder, "preprocessor_config.json"), spec["preprocessor"])
    write_json(os.path.join(folder, "processor_config.json"), processor_config(spec["num_image_tokens"]))
    write_json(os.path.join(folder, "tokenizer_config.json"), TOKENIZER_CONFIG)
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(tokenizer_json, ensure_ascii=False, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# Random weights


def init_weights(model, seed):
    """Seeded values for every parameter, in state_dict order.

    Matrices and conv kernels: N(0, 1/fan_in). Biases: N(0, 0.1^2). LayerNorm / LayerNorm2d /
    RMSNorm weights: 1 + N(0, 0.1^2). Embeddings, position embeddings, SAM rel-pos tables and the
    attention-pool latent: N(0, 0.5^2); token embeddings N(0, 1); lm_head N(0, 16/fan_in), so that
    the logits spread enough for unambiguous greedy steps. hd_alpha_downsamples: 0.75.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict(keep_vars=True).items():
            leaf = name.rsplit(".", 1)[-1]
            shape = tuple(p.shape)
            randn = lambda: torch.randn(shape, generator=gen, dtype=torch.float32)
            if name.endswith("hd_alpha_downsamples"):
                v = torch.full(shape, 0.75)
            elif name.endswith("embed_tokens.weight"):
                v = randn()
            elif name.endswith("lm_head.weight"):
                v = 4.0 * randn() / math.sqrt(shape[1])
            elif leaf in ("pos_embed", "rel_pos_h", "rel_pos_w", "latent"):
                v = 0.5 * randn()
            elif leaf == "bias":
                v = 0.1 * randn()
            elif leaf == "weight" and len(shape) == 1:
                v = 1.0 + 0.1 * randn()
            elif leaf == "weight":
                fan_in = math.prod(shape[1:])
                v = randn() / math.sqrt(fan_in)
            else:
                raise ValueError(f"no init rule for {name} {shape}")
            p.copy_(v)


# ---------------------------------------------------------------------------------------------
# Running the official code


class Recorder:
    """Forward hooks that keep module outputs by name."""

    def __init__(self):
        self.out = {}
        self.handles = []

    def output(self, module, key, fn=lambda o: o, many=False):
        def hook(_m, _inp, out):
            v = fn(out).detach().clone()
            if many:
                self.out.setdefault(key, []).append(v)
            else:
                assert key not in self.out, key
                self.out[key] = v
        self.handles.append(module.register_forward_hook(hook))

    def close(self):
        for h in self.handles:
            h.remove()


def record_siglip(rec, vit, prefix):
    rec.output(vit.patch_embed, prefix + ".patch_embed")
    for i, blk in enumerate(vit.blocks):
        rec.output(blk, f"{prefix}.block.{i}")
    rec.output(vit.norm, prefix + ".norm")


def record_sam(rec, sam, prefix):
    rec.output(sam.patch_embed, prefix + ".patch_embed")
    for i, blk in enumerate(sam.blocks):
        rec.output(blk, f"{prefix}.block.{i}")
    rec.output(sam.neck, prefix + ".neck")
    rec.output(sam.neck_hd, prefix + ".neck_hd")
    rec.output(sam.downsamples, prefix + ".downsamples", many=True)  # main path, then the HD path


def row_col_sums(x):
    """float64 sums over columns and over rows of an [n, c, h, w] tensor: [n, c, h] and [n, c, w]."""
    x = x.double()
    return x.sum(dim=3), x.sum(dim=2)


def run_case(model, processor, spec, case, intermediates):
    """Runs one prompt through the official code; returns (tensors, info)."""
    conv = [{"role": r, "content": c} for r, c in case["messages"]]
    images = [load_image(n) for n in case["images"]]
    if case["system_prompt"] is None:
        prep = processor(conversations=conv, images=images, force_batchify=True)
        system_prompt = processor.system_prompt
    else:
        # How the official processor takes another system prompt: render, then pass as prompt=.
        sft = processor.apply_sft_template_for_multi_turn_prompts(conv, sft_format=processor.sft_format,
                                                                  system_prompt=case["system_prompt"])
        prep = processor(prompt=sft, images=images, force_batchify=True)
        system_prompt = case["system_prompt"]
    prep.to("cpu", dtype=torch.float32)
    input_ids = prep.input_ids[0].clone()
    n_img = len(images)
    n_tok = spec["num_image_tokens"]
    assert int((input_ids == IMAGE_ID).sum()) == n_img * n_tok and input_ids[0] == BOS_ID

    rec = Recorder()
    vm = model.vision_model
    hybrid = spec["config"]["vision_config"]["cls"] == "HybridVisionTower"
    if intermediates:
        if hybrid:
            record_sam(rec, vm.vision_tower_high.vision_tower, "vision.sam")
            rec.output(vm.resize, "vision.low.resized")
            record_siglip(rec, vm.vision_tower_low.vision_tower, "vision.siglip")
            rec.output(vm, "vision.high", fn=lambda o: o[0])
            rec.output(model.aligner.high_up_proj, "aligner.high_up_proj")
            rec.output(model.aligner.low_up_proj, "aligner.low_up_proj")
        else:
            record_siglip(rec, vm.vision_tower, "vision.siglip")
    rec.output(model.aligner, "aligner")
    lm = model.language_model
    for i, layer in enumerate(lm.model.layers):
        rec.output(layer, f"language.layer.{i}", fn=lambda o: o[0][0])
    rec.output(lm.model.norm, "language.norm", fn=lambda o: o[0])

    with torch.no_grad():
        inputs_embeds = model.prepare_inputs_embeds(**prep)
        out = lm(inputs_embeds=inputs_embeds, attention_mask=prep.attention_mask, use_cache=False)
    rec.close()
    logits = out.logits[0].float()
    r = rec.out
    T = input_ids.shape[0]

    t = {"input_ids": input_ids.to(torch.int64)}
    pv = prep.pixel_values[0]  # [n_images, 3, S, S], what the vision tower receives
    # Every value is a uint8 over 255 (do_normalize is false): k * (1/255) in float64, rounded to
    # float32, which equals float32(k) / 255.
    u8 = torch.round(pv.double() * 255).to(torch.uint8)
    assert torch.equal(pv, (u8.double() * (1.0 / 255.0)).float()) and torch.equal(pv, u8.float() / 255)
    if intermediates and not hybrid:
        t["pixel_values.u8"] = u8
    else:
        t["pixel_values.row_sum"], t["pixel_values.col_sum"] = row_col_sums(pv)
    if intermediates:
        if hybrid:
            sam = "vision.sam"
            t[sam + ".patch_embed"] = r.pop(sam + ".patch_embed")
            for i in range(len(model.vision_model.vision_tower_high.vision_tower.blocks)):
                t[f"{sam}.block.{i}"] = r.pop(f"{sam}.block.{i}")
            t[sam + ".neck"] = r.pop(sam + ".neck")
            t[sam + ".neck_hd"] = r.pop(sam + ".neck_hd")
            main, hd = r.pop(sam + ".downsamples")
            t[sam + ".downsamples"], t[sam + ".downsamples_hd"] = main, hd
            t["vision.high"] = r.pop("vision.high")
            t["vision.low.resized.row_sum"], t["vision.low.resized.col_sum"] = row_col_sums(r.pop("vision.low.resized"))
            # Check the recorded pieces against the official forward they came from.
            alpha = model.vision_model.vision_tower_high.vision_tower.hd_alpha_downsamples
            high = (main + hd * alpha).flatten(2).transpose(1, 2)
            assert torch.equal(high, t["vision.high"])
        t["vision.siglip.patch_embed"] = r.pop("vision.siglip.patch_embed")
        n_blocks = len([k for k in r if k.startswith("vision.siglip.block.")])
        for i in range(n_blocks):
            t[f"vision.siglip.block.{i}"] = r.pop(f"vision.siglip.block.{i}")
        t["vision.siglip.norm"] = r.pop("vision.siglip.norm")
        if hybrid:
            t["aligner.high_up_proj"] = r.pop("aligner.high_up_proj")
            t["aligner.low_up_proj"] = r.pop("aligner.low_up_proj")
    aligner = r.pop("aligner")  # [n_images, n_tok, D]
    t["image_embeds"] = aligner.reshape(n_img * n_tok, -1)
    assert torch.equal(inputs_embeds[0][input_ids == IMAGE_ID], t["image_embeds"])
    t["inputs_embeds"] = inputs_embeds[0]
    n_layers = len(lm.model.layers)
    for i in range(n_layers):
        t[f"language.layer.{i}"] = r.pop(f"language.layer.{i}")
    t["language.norm"] = r.pop("language.norm")
    assert not r, sorted(r)
    if not intermediates:
        # Cases without intermediates keep the vision output, logits and greedy ids.
        del t["inputs_embeds"]
        del t["language.norm"]
        for i in range(n_layers):
            del t[f"language.layer.{i}"]
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
    assert min(margins) > MIN_GREEDY_MARGIN, (case["name"], min(margins))
    assert int(greedy[0]) == int(torch.argmax(logits[-1]))
    # The same tokens without the cache: one forward over the prompt and the generated tokens.
    with torch.no_grad():
        emb = torch.cat([inputs_embeds, lm.get_input_embeddings()(greedy[None, :-1])], dim=1)
        full = lm(inputs_embeds=emb, use_cache=False).logits[0]
    assert torch.equal(torch.argmax(full[T - 1:], dim=-1), greedy)
    t["greedy_ids"] = greedy.to(torch.int64)

    info = {"sft_format": prep.sft_format[0], "system_prompt": system_prompt, "images": case["images"],
            "num_tokens": T, "min_greedy_margin": min(margins), "logits": logits}
    return {k: v.contiguous() for k, v in t.items()}, info


# ---------------------------------------------------------------------------------------------
# README


TENSOR_DOCS = [
    ("input_ids", "token ids from VLChatProcessor: BOS first, each image tag replaced by num_image_tokens copies of id 2015"),
    ("pixel_values.u8", "tiny-siglip `one_image`: the VLMImageProcessor output (what the vision tower receives) "
                        "as uint8 [n_images, 3, S, S]: bicubic resize (long side to image_size), pad to square with "
                        "background_color; pixel_values = float32(u8) / 255 exactly (do_normalize is false)"),
    ("pixel_values.row_sum", "the other cases: float64 sums of the float32 pixel_values over each row (dim 3), "
                             "[n_images, 3, S]"),
    ("pixel_values.col_sum", "the same over each column (dim 2)"),
    ("vision.sam.patch_embed", "SAM patch_embed output (conv 16x16 stride 16), channels last [n, 64, 64, C], "
                               "before pos_embed is added (block 0 input = this + pos_embed)"),
    ("vision.sam.block.i", "output of SAM block i [n, 64, 64, C]; blocks 0 and 2 use 14x14 windows (64 padded to 70 "
                           "after norm1), blocks 1 and 3 global attention; block 1 feeds the HD path"),
    ("vision.sam.neck", "neck(last block) [n, C_neck, 64, 64]: conv1x1, LayerNorm2d, conv3x3, LayerNorm2d"),
    ("vision.sam.neck_hd", "neck_hd(block 1 output) [n, C_neck, 64, 64]"),
    ("vision.sam.downsamples", "downsamples(bilinear 96x96 resize of neck) [n, C_out, 24, 24]"),
    ("vision.sam.downsamples_hd", "downsamples(bilinear 96x96 resize of neck_hd), before the hd_alpha_downsamples factor"),
    ("vision.high", "high-res branch output [n, 576, C_out] = (downsamples + hd_alpha * downsamples_hd), row-major 24x24"),
    ("vision.low.resized.row_sum / col_sum", "the hybrid's Resize(384, antialias=True) (bilinear) of pixel_values, "
                                             "before Normalize(0.5, 0.5): float64 row / column sums [n, 3, 384]"),
    ("vision.siglip.patch_embed", "SigLIP patch embedding [n, N, W] (conv, flattened row-major), before pos_embed "
                                  "(block 0 input = this + pos_embed)"),
    ("vision.siglip.block.i", "output of SigLIP block i [n, N, W]"),
    ("vision.siglip.norm", "final LayerNorm = SigLIP tower output (the low-res branch output in tiny-hybrid)"),
    ("aligner.high_up_proj / low_up_proj", "tiny-hybrid aligner: the two up-projections [n, 576, D/2], concatenated "
                                            "[high, low] before GELU and layers.1"),
    ("image_embeds", "aligner output, images in order, [n_images * num_image_tokens, D]"),
    ("inputs_embeds", "prepare_inputs_embeds output [T, D]: embed_tokens(input_ids) with image_embeds written over "
                      "the image-token positions"),
    ("language.layer.i", "output of decoder layer i [T, D] (residual stream, before the final norm)"),
    ("language.norm", "final RMSNorm output [T, D]"),
    ("logits", f"lm_head output at the positions in logits_positions (the last {LOGIT_ROWS}) [{LOGIT_ROWS}, V]"),
    ("logits_positions", "the positions (rows of the prompt) that logits holds"),
    ("greedy_ids", "language_model.generate(inputs_embeds=..., do_sample=False, use_cache=True, max_new_tokens=32): "
                   "the 32 new token ids (any of the 2048 rows, also the unused 2016-2047; no EOS among them); "
                   "the top-1 logit beats the top-2 by more than 0.01 at every step"),
]


def dtype_name(t):
    return {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}[t.dtype]


def describe_sizes(spec):
    """One line per module: the sizes of a variant."""
    def siglip(params):
        e = official_siglip.SigLIP_MODEL_CONFIG[params["model_name"]]
        g = params["image_size"] // e["patch_size"]
        return (f"SigLIP `{params['model_name']}` at {params['image_size']} px: patch {e['patch_size']} "
                f"({g}x{g} = {g * g} tokens), width {e['width']}, {e['layers']} blocks, {e['heads']} heads "
                f"(head_dim {e['width'] // e['heads']}), MLP {int(e['width'] * e['mlp_ratio'])}, "
                f"normalize {params['pixel_mean'][0]} / {params['pixel_std'][0]} inside the tower")

    vp = spec["config"]["vision_config"]["params"]
    lines = []
    if spec["config"]["vision_config"]["cls"] == "HybridVisionTower":
        hi = vp["high_res_cfg"]
        e = official_sam.SAM_MODEL_CONFIG[hi["model_name"]]
        g = hi["image_size"] // 16
        glob = e["global_attn_indexes"]
        win = [i for i in range(e["layers"]) if i not in glob]
        lines.append(f"SAM `{hi['model_name']}` at {hi['image_size']} px: {g}x{g} patches, width {e['width']}, "
                     f"{e['layers']} blocks, {e['heads']} heads (head_dim {e['width'] // e['heads']}), MLP "
                     f"{4 * e['width']}; 14x14 windows in blocks {win}, global attention in blocks {glob} "
                     f"(HD tap: block {glob[0]}); neck {e['prompt_embed_dim']}; downsamples "
                     f"{e['prompt_embed_dim']} -> {' -> '.join(str(c) for c in e['downsample_channels'])}; "
                     f"normalize with CLIP mean / std inside the tower")
        lines.append("low-res branch: Resize(384, antialias=True) of the 1024 image, then " + siglip(vp["low_res_cfg"]))
    else:
        lines.append(siglip(vp))
    a = spec["config"]["aligner_config"]["params"]
    if a["projector_type"] == "mlp_gelu":
        lines.append(f"aligner `mlp_gelu`: Linear {a['input_dim']} -> {a['n_embed']}, GELU, Linear {a['n_embed']} -> "
                     f"{a['n_embed']}")
    else:
        lines.append(f"aligner `{a['projector_type']}`: high_up_proj and low_up_proj {a['input_dim']} -> "
                     f"{a['n_embed'] // 2}, concatenated [high, low], GELU, Linear {a['n_embed']} -> {a['n_embed']}")
    lm = spec["config"]["language_config"]
    lines.append(f"LLaMA: hidden {lm['hidden_size']}, {lm['num_hidden_layers']} layers, {lm['num_attention_heads']} "
                 f"heads (head_dim {lm['hidden_size'] // lm['num_attention_heads']}, no GQA), MLP "
                 f"{lm['intermediate_size']}, vocab {lm['vocab_size']}, untied lm_head, RMSNorm eps 1e-6, RoPE theta "
                 f"10000; {spec['num_image_tokens']} image tokens per image")
    return lines


def readme(summaries, tables):
    L = []
    L.append("# DeepSeek-VL (v1) reference fixtures")
    L.append("")
    L.append("Written by `tools/reference/deepseek_vl_v1.py`, which builds two tiny DeepSeek-VL models with random")
    L.append("weights in the official checkpoint format and records what the official code")
    L.append(f"({VL1_CODE['repository']} at {VL1_CODE['commit'][:12]}) computes with them, in float32 on CPU.")
    L.append("Do not edit these files by hand; re-run the script.")
    L.append("")
    L.append("| file | what |")
    L.append("|---|---|")
    L.append("| `image.png` | 224x160 test image (landscape: padded top and bottom) |")
    L.append("| `image2.png` | 54x80 test image (portrait: padded left and right) |")
    L.append("| `vision_models.json` | the official vision name tables `SigLIP_MODEL_CONFIG` and `SAM_MODEL_CONFIG` "
             "with the tiny entries, and the sizes the official code fixes in code |")
    L.append("| `<variant>/config.json`, `model.safetensors`, `preprocessor_config.json`, `processor_config.json`, "
             "`tokenizer.json`, `tokenizer_config.json` | a model directory as on the Hugging Face hub (float32 weights) |")
    L.append("| `<variant>/vision_models.json` | a copy of `vision_models.json`: the name-table entries the model's towers "
             "need, which dsvl reads from the model directory |")
    L.append("| `<variant>/reference.safetensors` | tensors the official code computed; names `<case>.<tensor>` |")
    L.append("")
    L.append("The vision towers' sizes are not in config.json: the official code looks `model_name` up in its name")
    L.append("tables, to which the script adds `siglip_tiny_patch16_192`, `siglip_tiny_patch16_384` and")
    L.append("`sam_tiny_downsample` (see `vision_models.json`). Attention heads are the one size the weights do")
    L.append("not show. The language_config leaves out `rms_norm_eps` and `rope_theta`, so LlamaConfig's defaults")
    L.append("apply (1e-6 and 10000).")
    L.append("")
    L.append("To load a folder with the official code, first add the tiny entries to its tables: import the script")
    L.append("and call `register_tiny_models()`.")
    L.append("")
    L.append("The tokenizer is `tests/data/tokenizer/tiny-deepseek-llm` with DeepSeek-VL's added tokens at the same")
    L.append("offsets from the end of the BPE vocabulary: BOS `<｜begin▁of▁sentence｜>` 2000, EOS")
    L.append("`<｜end▁of▁sentence｜>` 2001, 13 Latin-1 symbols 2002-2014, `<image_placeholder>` 2015. The LM has")
    L.append(f"{LM_VOCAB} embedding rows.")
    L.append("")
    L.append("## Tensors")
    L.append("")
    L.append("Every case has input_ids, the pixel values (in full, as uint8, for tiny-siglip's `one_image`; elsewhere")
    L.append("as float64 row and column sums, which keeps 1024x1024 images out of the files), image_embeds, logits at")
    L.append(f"the last {LOGIT_ROWS} positions and greedy_ids. The `one_image` cases also have the intermediates of the")
    L.append("vision towers and the aligner, inputs_embeds, each decoder layer and the final norm. Vision tensors keep")
    L.append("the batch of images as their first dimension. Names are `<case>.<tensor>`.")
    L.append("")
    L.append("| tensor | meaning |")
    L.append("|---|---|")
    for k, v in TENSOR_DOCS:
        L.append(f"| `{k}` | {v} |")
    for variant, s in summaries.items():
        L.append("")
        L.append(f"## {variant}")
        L.append("")
        L.append(s["about"] + ".")
        L.append("")
        for line in describe_sizes(VARIANTS[variant]):
            L.append(f"- {line}")
        L.append("")
        L.append("Cases:")
        L.append("")
        for c in s["cases"]:
            L.append(f"- `{c['name']}`: images {', '.join('`' + i + '`' for i in c['images'])}; "
                     f"{c['num_tokens']} tokens; system prompt: "
                     + ("the processor's default" if c["system_prompt_default"] else "empty")
                     + f"; prompt after BOS: `{json.dumps(c['sft_format'], ensure_ascii=False)[1:-1]}`")
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
    config = MultiModalityConfig(**spec["config"])
    model = MultiModalityCausalLM(config).eval()
    lc = model.language_model.config
    assert lc.rms_norm_eps == 1e-6 and lc.rope_theta == 10000.0 and not lc.tie_word_embeddings and lc.pretraining_tp == 1
    init_weights(model, spec["seed"])
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})

    processor = VLChatProcessor.from_pretrained(folder)
    assert processor.image_id == IMAGE_ID and processor.tokenizer.bos_token_id == BOS_ID
    assert len(processor.tokenizer) == IMAGE_ID + 1

    tensors, infos = {}, []
    for case in spec["cases"]:
        t, info = run_case(model, processor, spec, case, case["intermediates"])
        for k, v in t.items():
            tensors[f"{case['name']}.{k}"] = v
        infos.append((case, info))

    # The directory must load with the official from_pretrained and give the same numbers.
    reloaded, loading = MultiModalityCausalLM.from_pretrained(folder, output_loading_info=True)
    reloaded.eval()
    assert not any(loading.values()), loading
    file_keys = set(load_file(os.path.join(folder, "model.safetensors")).keys())
    assert file_keys == set(reloaded.state_dict().keys()), file_keys ^ set(reloaded.state_dict().keys())
    processor2 = VLChatProcessor.from_pretrained(folder)
    for case, info in infos:
        _, info2 = run_case(reloaded, processor2, spec, case, False)
        assert torch.equal(info["logits"], info2["logits"]), case["name"]

    # One metadata entry: safetensors writes the metadata map in no fixed order.
    about = {"reference": "official DeepSeek-VL code", "code": VL1_CODE, "versions": versions(),
             "image_token_id": IMAGE_ID, "num_image_tokens": spec["num_image_tokens"],
             "cases": [{"name": case["name"], "images": info["images"], "sft_format": info["sft_format"],
                        "system_prompt": info["system_prompt"], "num_tokens": info["num_tokens"]}
                       for case, info in infos]}
    save_file(tensors, os.path.join(folder, "reference.safetensors"),
              metadata={"dsvl_reference": json.dumps(about, ensure_ascii=False, sort_keys=True)})

    summary = {"about": spec["about"], "cases": [
        {"name": c["name"], "images": i["images"], "num_tokens": i["num_tokens"], "sft_format": i["sft_format"],
         "system_prompt_default": c["system_prompt"] is None, "min_greedy_margin": i["min_greedy_margin"]}
        for c, i in infos]}
    return summary, tensors, state


def vision_models_json():
    fixed = {
        "sam": {"patch_size": 16, "window_size": 14, "mlp_ratio": 4, "layer_norm_eps": 1e-6, "layer_norm2d_eps": 1e-6,
                "neck_resize": [96, 96], "prompt_embed_dim_default": 256, "qkv_bias": True, "use_rel_pos": True,
                "use_abs_pos": True,
                "notes": ["patch_size and prompt_embed_dim (the neck width) are SAMViTCfg fields with defaults 16 "
                          "and 256; no official entry sets them",
                          "window_size 14 is passed by create_sam_vit itself (SAMViTCfg.window_size is not used)",
                          "the neck outputs are resized to neck_resize with F.interpolate(bilinear, "
                          "align_corners=False) in float32 before `downsamples` (convs k3 s2 p1, no bias)",
                          "the HD path taps the output of the first block whose index is in global_attn_indexes",
                          "pos_embed has [1, image_size/16, image_size/16, width]; rel_pos tables [2*14-1, head_dim] "
                          "in window blocks, [2*(image_size/16)-1, head_dim] in global blocks"]},
        "siglip": {"layer_norm_eps": 1e-6, "class_token": False, "ignore_head": True, "final_norm": True,
                   "qkv_bias": True,
                   "notes": ["activation: exact (erf) GELU",
                             "the table's image_size is not used: the tower is built for the image_size of the "
                             "vision params",
                             "blocks built: select_layer <= 0 gives min(layers, layers + select_layer + 1), "
                             "otherwise min(layers, select_layer)",
                             "attn_pool (global_pool 'map') exists in the weights but is not run (ignore_head)"]},
    }
    sig = {k: dict(v) for k, v in official_siglip.SigLIP_MODEL_CONFIG.items()}
    sam = {k: {kk: (list(vv) if isinstance(vv, tuple) else vv) for kk, vv in v.items()}
           for k, v in official_sam.SAM_MODEL_CONFIG.items()}
    return {"about": "name tables of deepseek_vl.models.siglip_vit / sam (official entries and the tiny ones "
                     "added by tools/reference/deepseek_vl_v1.py) and sizes the official code sets in code",
            "tiny": sorted(list(TINY_SIGLIP_TABLE) + list(TINY_SAM_TABLE)),
            "SigLIP_MODEL_CONFIG": sig, "SAM_MODEL_CONFIG": sam, "fixed_in_code": fixed}


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    register_tiny_models()
    os.makedirs(OUT_DIR, exist_ok=True)
    write_images()
    tokenizer_json = build_tokenizer_json()
    write_json(os.path.join(OUT_DIR, "vision_models.json"), vision_models_json())
    summaries, tables = {}, {}
    for name, spec in VARIANTS.items():
        summary, tensors, state = build_variant(name, spec, tokenizer_json)
        # A model directory carries the table entries its towers need (dsvl reads them from there).
        write_json(os.path.join(OUT_DIR, name, "vision_models.json"), vision_models_json())
        summaries[name], tables[name] = summary, tensors
        n_params = sum(v.numel() for v in state.values())
        print(f"{name}: {n_params} parameters, {len(tensors)} reference tensors; "
              + ", ".join(f"{c['name']} T={c['num_tokens']} margin={c['min_greedy_margin']:.3g}" for c in summary["cases"]))
    with open(os.path.join(OUT_DIR, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(summaries, tables))
    total = 0
    for root, _, files in os.walk(OUT_DIR):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            total += os.path.getsize(p)
            print(f"  {os.path.relpath(p, REPO)}: {os.path.getsize(p)} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
