"""End-to-end reference fixtures for Janus-Pro understanding: a tiny random-weight model run by the official code.

Writes tests/data/janus_pro/:

    README.md                    what every file and tensor is (generated: names, dtypes, shapes)
    tiny-janus-pro/              a model directory in the layout of deepseek-ai/Janus-Pro-{1B,7B}:
                                 config.json (model_type "multi_modality" with vision_config,
                                 aligner_config, gen_vision_config, gen_aligner_config,
                                 gen_head_config, language_config), model.safetensors (float32),
                                 preprocessor_config.json, processor_config.json,
                                 special_tokens_map.json, tokenizer.json, tokenizer_config.json,
                                 vision_models.json (the tiny SigLIP's name-table entry, which dsvl
                                 reads from the directory), and reference.safetensors, what the
                                 official code computed with it

The images are tests/data/deepseek_vl/image.png (224x160) and image2.png (54x80).

The official code
-----------------
Janus is not on PyPI. Its package is read at run time from a clone of

    github.com/deepseek-ai/Janus at 1daa72fa409002d40931bd7b36a9280362469ead

(`git archive <commit> janus` unpacked into a temporary folder that is put on the import path;
nothing of it is copied into this repository). Everything is the official path: MultiModalityConfig
from config.json, MultiModalityCausalLM(config), VLChatProcessor.from_pretrained(dir)
(VLMImageProcessor from preprocessor_config.json, LlamaTokenizerFast from the tokenizer files, the
"deepseek" conversation template of janus/utils/conversation.py with the processor's system prompt,
each image tag replaced by <begin_of_image>, num_image_tokens image tags and <end_of_image>),
`prepare_inputs_embeds`, the LlamaForCausalLM forward, and `language_model.generate` as the Janus-Pro
README calls it, with the README's roles "<|User|>" and "<|Assistant|>".

The tiny model
--------------
  - Understanding: CLIPVisionTower with `siglip_tiny_patch16_192`, an entry this script adds to the
    official SigLIP_MODEL_CONFIG at run time (patch 16, width 32, 3 blocks, 4 heads, MLP ratio 4, the
    `map` pooling head built and saved but not run, as in siglip_large_patch16_384); 192 px, so
    12 x 12 = 144 image tokens (image_size in config.json and preprocessor_config.json,
    num_image_tokens in processor_config.json). No pixel_mean / pixel_std in vision_config, as in the
    released configs: the processor normalises (do_normalize true, mean = std = 0.5, background
    int(0.5 * 255) = 127). Aligner `mlp_gelu` depth 2, 32 -> 32. LLaMA: hidden 32, 3 layers, 2 heads,
    MLP 88, vocab 2048, untied lm_head, rms_norm_eps and rope_theta left to LlamaConfig's defaults
    (1e-6, 10000); max_position_embeddings 2048 instead of the released 16384 (transformers 4.38
    builds a [max_position_embeddings]^2 causal mask on every forward call).
  - Image generation (built, saved, never run for understanding): gen_vision_config cls `VQ-tiny`, an
    entry this script adds to the official VQ_models: the official VQModel with a 64-entry codebook of
    8 and z_channels 32, whose Encoder and Decoder (hard-coded to 128 channels by VQModel) are
    replaced by the official Encoder and Decoder with ch=32, ch_mult=[1] (GroupNorm's 32 groups set
    the smallest width); gen_aligner `mlp_gelu` depth 2, 8 -> 32; gen_head `vision_head` 32 -> 32 ->
    64; gen_embed 64 x 8. The released checkpoints hold VQ-16 (16384 codes of 8) with the same
    module names.

Weights are random (seeded), with scales that keep activations O(1), and every tensor of the
state_dict is set, the image-generation parts and the VQ codebook-usage buffer included.

The tokenizer is tests/data/tokenizer/tiny-deepseek-llm/tokenizer.json (a 2000-token byte-level BPE
with the DeepSeek-LLM pre-tokenizer) with its added tokens replaced by Janus-Pro's, as special
tokens (no strip flags, normalized false) after the BPE vocabulary: BOS 2000, EOS 2001,
<｜▁pad▁｜> 2002 (the processor's pad_tag), the additional_special_tokens of Janus-Pro's
special_tokens_map.json 2003-2011 (<image_placeholder> 2003, ..., <|User|> 2010, <|Assistant|>
2011), <begin_of_image> 2012 and <end_of_image> 2013. The released tokenizer has them at other
ids (BOS 100000, EOS 100001). tokenizer_config.json is the released one's, with
tokenizer_class LlamaTokenizer.

The run is float32 on CPU, one thread, deterministic algorithms (the official demos run bf16 on
GPU). The script asserts that the pixels the tower got are exactly (float32(u8 * (1/255)) - 0.5) / 0.5
of uint8 images, that inputs_embeds holds the aligner output at the image tokens and embed_tokens
rows elsewhere, that each image's tokens sit between <begin_of_image> and <end_of_image>, that the
16 KV-cached greedy tokens equal an uncached re-run with top-1 minus top-2 above 0.01 at every step
and no EOS, and that the directory reloads with the official from_pretrained to bit-identical
logits with exactly the model's state_dict in the file. Re-running the script reproduces every file
byte for byte.

Environment (the versions of tools/reference/deepseek_vl_v1.py's where Janus's requirements allow;
torch 2.6 because Janus asks for >= 2.0.1 and the same venv serves deepseek_ocr.py):

    git clone https://github.com/deepseek-ai/Janus /tmp/Janus
    git -C /tmp/Janus checkout 1daa72fa409002d40931bd7b36a9280362469ead
    python3.11 -m venv /tmp/ocr-ref && . /tmp/ocr-ref/bin/activate
    pip install torch==2.6.0 torchvision==0.21.0 transformers==4.38.2 tokenizers==0.15.2 \\
        pillow==10.2.0 numpy safetensors einops timm==0.9.16 attrdict==2.0.1 sentencepiece accelerate

Then, from the repository root (well under a minute on one core):

    python tools/reference/janus_pro.py --janus /tmp/Janus
"""

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import io

import numpy as np
import PIL
import safetensors
import timm
import tokenizers
import torch
import torchvision
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(REPO, "tests", "data", "janus_pro")
MODEL_DIR = os.path.join(OUT_DIR, "tiny-janus-pro")
IMAGE_DIR = os.path.join(REPO, "tests", "data", "deepseek_vl")
TINY_TOKENIZER = os.path.join(REPO, "tests", "data", "tokenizer", "tiny-deepseek-llm", "tokenizer.json")

JANUS_CODE = {"repository": "github.com/deepseek-ai/Janus", "commit": "1daa72fa409002d40931bd7b36a9280362469ead"}

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
IMAGE_TAG = "<image_placeholder>"
# Janus-Pro's special_tokens_map.json additional_special_tokens, in its order.
ADDITIONAL = [IMAGE_TAG, "<patch_placeholder>", "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|grounding|>",
              "<|User|>", "<|Assistant|>"]
BOI, EOI = "<begin_of_image>", "<end_of_image>"
BOS_ID, EOS_ID, PAD_ID = 2000, 2001, 2002
IMAGE_ID = 2003
BOI_ID, EOI_ID = 2012, 2013
LM_VOCAB = 2048
NUM_IMAGE_TOKENS = 144
GREEDY_STEPS = 16
LOGIT_ROWS = 8           # logits and decoder layers are kept for the last LOGIT_ROWS positions
MIN_GREEDY_MARGIN = 1e-2
SEED = 4242

TINY_SIGLIP = {"siglip_tiny_patch16_192": {"image_size": 192, "patch_size": 16, "width": 32, "layers": 3, "heads": 4,
                                           "mlp_ratio": 4, "global_pool": "map", "use_checkpoint": False}}
TINY_VQ = {"codebook_size": 64, "codebook_embed_dim": 8, "z_channels": 32, "ch": 32, "ch_mult": [1]}

CONFIG = {
    "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
                       "params": {"depth": 2, "input_dim": 32, "n_embed": 32, "projector_type": "mlp_gelu"}},
    "architectures": ["MultiModalityCausalLM"],
    "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
                           "params": {"depth": 2, "input_dim": 8, "n_embed": 32, "projector_type": "mlp_gelu"}},
    "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
                        "params": {"image_token_embed": 32, "image_token_size": 64, "n_embed": 32}},
    "gen_vision_config": {"cls": "VQ-tiny", "model_type": "gen_vision", "params": {"image_token_size": 64, "n_embed": 8}},
    "language_config": {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "hidden_size": 32, "intermediate_size": 88,
                        "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 2,
                        "num_hidden_layers": 3, "num_key_value_heads": 2, "torch_dtype": "float32",
                        "vocab_size": LM_VOCAB},
    "model_type": "multi_modality",
    "torch_dtype": "float32",
    "transformers_version": transformers.__version__,
    "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision",
                      "params": {"image_size": 192, "model_name": "siglip_tiny_patch16_192", "select_feature": "same",
                                 "select_layer": -1}},
}
# The released preprocessor_config.json but for image_size.
PREPROCESSOR = {"background_color": [127, 127, 127], "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                "image_processor_type": "VLMImageProcessor", "image_size": 192, "image_std": [0.5, 0.5, 0.5],
                "min_size": 14, "processor_class": "VLChatProcessor", "rescale_factor": 0.00392156862745098}
PROCESSOR = {"add_special_token": False, "ignore_id": -100, "image_tag": IMAGE_TAG, "mask_prompt": True,
             "num_image_tokens": NUM_IMAGE_TOKENS, "processor_class": "VLChatProcessor", "sft_format": "deepseek"}
SPECIAL_TOKENS_MAP = {"additional_special_tokens": ADDITIONAL, "bos_token": BOS, "eos_token": EOS, "pad_token": PAD}
TOKENIZER_CONFIG = {"bos_token": BOS, "clean_up_tokenization_spaces": False, "eos_token": EOS,
                    "model_max_length": 16384, "pad_token": None, "tokenizer_class": "LlamaTokenizer",
                    "unk_token": None, "use_default_system_prompt": False}

USER, ASSISTANT = "<|User|>", "<|Assistant|>"
CASES = [
    # The Janus-Pro README's request: the processor's system prompt, one image.
    {"name": "one_image", "system_prompt": None, "images": ["image.png"], "intermediates": True,
     "messages": [(USER, IMAGE_TAG + "\nDescribe this image."), (ASSISTANT, "")]},
    # Two images in a later turn, no system prompt.
    {"name": "two_images", "system_prompt": "", "images": ["image2.png", "image.png"], "intermediates": False,
     "messages": [(USER, "Hello!"), (ASSISTANT, "Hi! How can I help?"),
                  (USER, "Compare " + IMAGE_TAG + " with " + IMAGE_TAG + "\nWhich is brighter?"), (ASSISTANT, "")]},
]


# ---------------------------------------------------------------------------------------------
# The official code, read from a Janus clone into a temporary import folder


def import_official(clone):
    head = subprocess.run(["git", "-C", clone, "rev-parse", JANUS_CODE["commit"] + "^{commit}"], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert head == JANUS_CODE["commit"], head
    archive = subprocess.run(["git", "-C", clone, "archive", JANUS_CODE["commit"], "janus"], check=True,
                             capture_output=True).stdout
    tmp = tempfile.TemporaryDirectory(prefix="dsvl_janus_ref_")
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        t.extractall(tmp.name, filter="data")
    sys.path.insert(0, tmp.name)
    import janus.models as models
    import janus.models.siglip_vit as siglip_vit
    import janus.models.vq_model as vq_model
    siglip_vit.SigLIP_MODEL_CONFIG.update(copy.deepcopy(TINY_SIGLIP))

    def vq_tiny(**kwargs):
        m = vq_model.VQModel(vq_model.ModelArgs(codebook_size=TINY_VQ["codebook_size"],
                                                codebook_embed_dim=TINY_VQ["codebook_embed_dim"],
                                                encoder_ch_mult=TINY_VQ["ch_mult"], decoder_ch_mult=TINY_VQ["ch_mult"],
                                                z_channels=TINY_VQ["z_channels"], **kwargs))
        m.encoder = vq_model.Encoder(ch=TINY_VQ["ch"], ch_mult=TINY_VQ["ch_mult"], z_channels=TINY_VQ["z_channels"])
        m.decoder = vq_model.Decoder(ch=TINY_VQ["ch"], ch_mult=TINY_VQ["ch_mult"], z_channels=TINY_VQ["z_channels"])
        return m

    vq_model.VQ_models["VQ-tiny"] = vq_tiny
    return tmp, models


# ---------------------------------------------------------------------------------------------
# Files


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def build_tokenizer_json():
    with open(TINY_TOKENIZER, encoding="utf-8") as f:
        tok = json.load(f)
    tok["model"].pop("ignore_merges", None)  # absent from DeepSeek-LLM's file (its default, false, applies)
    assert max(tok["model"]["vocab"].values()) == BOS_ID - 1
    contents = [BOS, EOS, PAD] + ADDITIONAL + [BOI, EOI]
    tok["added_tokens"] = [{"id": BOS_ID + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True} for i, c in enumerate(contents)]
    assert tok["added_tokens"][IMAGE_ID - BOS_ID]["content"] == IMAGE_TAG
    assert tok["added_tokens"][BOI_ID - BOS_ID]["content"] == BOI and tok["added_tokens"][-1]["id"] == EOI_ID
    return tok


def write_model_dir(tokenizer_json):
    os.makedirs(MODEL_DIR, exist_ok=True)
    write_json(os.path.join(MODEL_DIR, "config.json"), CONFIG)
    write_json(os.path.join(MODEL_DIR, "preprocessor_config.json"), PREPROCESSOR)
    write_json(os.path.join(MODEL_DIR, "processor_config.json"), PROCESSOR)
    write_json(os.path.join(MODEL_DIR, "special_tokens_map.json"), SPECIAL_TOKENS_MAP)
    write_json(os.path.join(MODEL_DIR, "tokenizer_config.json"), TOKENIZER_CONFIG)
    write_json(os.path.join(MODEL_DIR, "vision_models.json"), {"SigLIP_MODEL_CONFIG": TINY_SIGLIP})
    with open(os.path.join(MODEL_DIR, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(tokenizer_json, ensure_ascii=False, indent=2) + "\n")


def load_image(name):
    # As janus.utils.io.load_pil_images does.
    return Image.open(os.path.join(IMAGE_DIR, name)).convert("RGB")


# ---------------------------------------------------------------------------------------------
# Random weights


def init_weights(model, seed):
    """Seeded values for every tensor of the state_dict, in its order.

    Matrices and conv kernels: N(0, 1/fan_in). Biases: N(0, 0.1^2). LayerNorm, GroupNorm and RMSNorm
    weights: 1 + N(0, 0.1^2). SigLIP's pos_embed and the attention-pool latent: N(0, 0.5^2); token
    embeddings N(0, 1); lm_head N(0, 16/fan_in), so that the logits spread enough for unambiguous
    greedy steps; the VQ codebook-usage buffer: N(0, 1).
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict(keep_vars=True).items():
            leaf = name.rsplit(".", 1)[-1]
            shape = tuple(p.shape)
            randn = lambda: torch.randn(shape, generator=gen, dtype=torch.float32)
            if name == "language_model.model.embed_tokens.weight" or leaf == "codebook_used":
                v = randn()
            elif name == "language_model.lm_head.weight":
                v = 4.0 * randn() / math.sqrt(shape[1])
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


class Recorder:
    """Forward hooks that keep module outputs by name."""

    def __init__(self):
        self.out = {}
        self.handles = []

    def output(self, module, key, fn=lambda o: o):
        def hook(_m, _inp, out):
            assert key not in self.out, key
            self.out[key] = fn(out).detach().clone()
        self.handles.append(module.register_forward_hook(hook))

    def close(self):
        for h in self.handles:
            h.remove()


def pixel_sums(pv):
    """The uint8 images behind normalised pixel values [n, 3, S, S]: int64 sums over each row and
    each column, [n, 3, S] each, after checking that the values are exactly those of the images."""
    u8 = torch.round((pv.double() * 0.5 + 0.5) * 255).to(torch.uint8)
    rescaled = (u8.double() * (1.0 / 255.0)).float()
    assert torch.equal(pv, (rescaled - 0.5) / 0.5)
    x = u8.to(torch.int64)
    return x.sum(dim=3), x.sum(dim=2)


def run_case(model, processor, case, intermediates):
    """Runs one request through the official code; returns (tensors, info)."""
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
    T = input_ids.shape[0]
    assert input_ids[0] == BOS_ID and int((input_ids == IMAGE_ID).sum()) == n_img * NUM_IMAGE_TOKENS
    starts = (input_ids == BOI_ID).nonzero().flatten().tolist()
    assert len(starts) == n_img and int((input_ids == EOI_ID).sum()) == n_img
    for s in starts:
        assert bool((input_ids[s + 1:s + 1 + NUM_IMAGE_TOKENS] == IMAGE_ID).all())
        assert input_ids[s + 1 + NUM_IMAGE_TOKENS] == EOI_ID

    rec = Recorder()
    vit = model.vision_model.vision_tower
    if intermediates:
        rec.output(vit.patch_embed, "vision.siglip.patch_embed")
        for i, blk in enumerate(vit.blocks):
            rec.output(blk, f"vision.siglip.block.{i}")
        rec.output(vit.norm, "vision.siglip.norm")
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

    t = {"input_ids": input_ids.to(torch.int64)}
    t["pixel_values.row_sums"], t["pixel_values.col_sums"] = pixel_sums(prep.pixel_values[0])
    if intermediates:
        for k in sorted(k for k in r if k.startswith("vision.")):
            t[k] = r.pop(k)
    image_embeds = r.pop("aligner").reshape(n_img * NUM_IMAGE_TOKENS, -1)
    t["image_embeds"] = image_embeds
    is_image = input_ids == IMAGE_ID
    assert torch.equal(inputs_embeds[0][is_image], image_embeds)
    assert torch.equal(inputs_embeds[0][~is_image], lm.get_input_embeddings()(input_ids[~is_image]))
    positions = torch.arange(T - LOGIT_ROWS, T, dtype=torch.int64)
    if intermediates:
        t["inputs_embeds"] = inputs_embeds[0]
        for i in range(len(lm.model.layers)):
            t[f"language.layer.{i}"] = r.pop(f"language.layer.{i}")[positions]
        t["language.norm"] = r.pop("language.norm")[positions]
    t["logits"] = logits[positions]
    t["logits_positions"] = positions

    # Greedy decoding as the Janus-Pro README does it (KV cache on).
    with torch.no_grad():
        gen = lm.generate(inputs_embeds=inputs_embeds, attention_mask=prep.attention_mask, pad_token_id=EOS_ID,
                          bos_token_id=BOS_ID, eos_token_id=EOS_ID, max_new_tokens=GREEDY_STEPS, do_sample=False,
                          use_cache=True, output_scores=True, return_dict_in_generate=True)
    greedy = gen.sequences[0]
    assert greedy.shape[0] == GREEDY_STEPS and EOS_ID not in greedy.tolist(), f"{case['name']}: EOS; change SEED"
    margins = [float(torch.topk(s[0].float(), 2).values.diff().neg()) for s in gen.scores]
    assert min(margins) > MIN_GREEDY_MARGIN, (case["name"], min(margins))
    assert int(greedy[0]) == int(torch.argmax(logits[-1]))
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
    ("input_ids", f"token ids from VLChatProcessor: BOS {BOS_ID} first, each image tag replaced by <begin_of_image> "
                  f"{BOI_ID}, {NUM_IMAGE_TOKENS} copies of the image tag's id {IMAGE_ID} and <end_of_image> {EOI_ID}"),
    ("pixel_values.row_sums / col_sums", "the VLMImageProcessor output (what the vision tower receives: bicubic "
                                         "resize of the long side to 192, pad to square with 127, x / 255, then "
                                         "(x - 0.5) / 0.5) as the uint8 images it is exactly made of: int64 sums over "
                                         "each row and each column, [n_images, 3, 192]"),
    ("vision.siglip.patch_embed", "SigLIP patch embedding [1, 144, 32] (conv, flattened row-major), before pos_embed"),
    ("vision.siglip.block.i", "output of SigLIP block i [1, 144, 32]"),
    ("vision.siglip.norm", "final LayerNorm = the tower's output [1, 144, 32]"),
    ("image_embeds", "aligner output, images in order, [n_images * 144, 32]"),
    ("inputs_embeds", "prepare_inputs_embeds output [T, 32]: embed_tokens(input_ids) with image_embeds written over "
                      "the image-tag positions"),
    ("language.layer.i", "output of decoder layer i at logits_positions [8, 32] (residual stream, before the final "
                         "norm)"),
    ("language.norm", "final RMSNorm output at logits_positions [8, 32]"),
    ("logits", f"lm_head output at logits_positions [{LOGIT_ROWS}, {LM_VOCAB}]"),
    ("logits_positions", f"the last {LOGIT_ROWS} positions of the prompt"),
    ("greedy_ids", f"language_model.generate(inputs_embeds=..., do_sample=False, use_cache=True, "
                   f"max_new_tokens={GREEDY_STEPS}): the new token ids (no EOS among them; the top-1 logit beats the "
                   f"top-2 by more than {MIN_GREEDY_MARGIN} at every step)"),
]


def dtype_name(t):
    return {torch.float32: "F32", torch.int64: "I64"}[t.dtype]


def readme(infos, tensors, n_params):
    L = ["# Janus-Pro reference fixtures", "",
         "Written by `tools/reference/janus_pro.py`, which builds a tiny Janus-Pro model with random weights in the",
         "official checkpoint format and records what the official code",
         f"({JANUS_CODE['repository']} at {JANUS_CODE['commit'][:12]}) computes with it for understanding, in",
         "float32 on CPU. Do not edit these files by hand; re-run the script.", "",
         "| file | what |", "|---|---|",
         "| `tiny-janus-pro/config.json`, `model.safetensors`, `preprocessor_config.json`, `processor_config.json`, "
         "`special_tokens_map.json`, `tokenizer.json`, `tokenizer_config.json` | a model directory in the layout of "
         "deepseek-ai/Janus-Pro-1B and -7B (float32 weights, in safetensors; the released weights are "
         "`pytorch_model*.bin` files with the same tensor names) |",
         "| `tiny-janus-pro/vision_models.json` | the name-table entry of the tiny SigLIP tower, which the official code "
         "gets from `SigLIP_MODEL_CONFIG` and dsvl from this file |",
         "| `tiny-janus-pro/reference.safetensors` | tensors the official code computed; names `<case>.<tensor>` |", "",
         "The images are `tests/data/deepseek_vl/image.png` (224x160) and `image2.png` (54x80).", "",
         "## The model", "",
         f"{n_params} parameters:", "",
         "- SigLIP `siglip_tiny_patch16_192` at 192 px: patch 16 (12x12 = 144 tokens), width 32, 3 blocks, 4 heads, "
         "MLP 128, the `map` head saved but not run; no normalisation in the tower (the processor normalises with "
         "0.5 / 0.5)",
         "- aligner `mlp_gelu`: Linear 32 -> 32, GELU, Linear 32 -> 32",
         "- LLaMA: hidden 32, 3 layers, 2 heads (head_dim 16), MLP 88, vocab 2048, untied lm_head, RMSNorm eps 1e-6, "
         "RoPE theta 10000",
         "- image generation, never run for understanding: `gen_vision_model` (VQModel with a 64 x 8 codebook, "
         "Encoder and Decoder at 32 channels, ch_mult [1]), `gen_aligner` (8 -> 32 -> 32), `gen_head` "
         "(32 -> 32 -> 64), `gen_embed` (64 x 8)", "",
         "Tokenizer: `tests/data/tokenizer/tiny-deepseek-llm` with Janus-Pro's added tokens after its 2000 BPE "
         f"tokens: BOS {BOS_ID}, EOS {EOS_ID}, `{PAD}` {PAD_ID}, the additional special tokens of Janus-Pro's "
         f"special_tokens_map.json {IMAGE_ID}-{IMAGE_ID + len(ADDITIONAL) - 1} (`<image_placeholder>` {IMAGE_ID}, "
         f"`<|User|>` {IMAGE_ID + 7}, `<|Assistant|>` {IMAGE_ID + 8}), `<begin_of_image>` {BOI_ID}, "
         f"`<end_of_image>` {EOI_ID}. The LM has {LM_VOCAB} embedding rows.", "",
         "## Cases", ""]
    for case, info in infos:
        L.append(f"- `{case['name']}`: images {', '.join('`' + i + '`' for i in info['images'])}; "
                 f"{info['num_tokens']} tokens; system prompt: "
                 + ("the processor's default" if case["system_prompt"] is None else "empty")
                 + f"; prompt after BOS: `{json.dumps(info['sft_format'], ensure_ascii=False)[1:-1]}`")
    L += ["", "The first case has every tensor below; the second has the ids, pixels, image_embeds, logits and "
          "greedy_ids.", "", "| tensor | meaning |", "|---|---|"]
    L += [f"| `{k}` | {v} |" for k, v in TENSOR_DOCS]
    L += ["", "| tensor | dtype | shape |", "|---|---|---|"]
    L += [f"| `{name}` | {dtype_name(t)} | {list(t.shape)} |" for name, t in tensors.items()]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------------------------------------


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "timm": timm.__version__,
            "pillow": PIL.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--janus", required=True, help="a clone of github.com/deepseek-ai/Janus holding the commit")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tmp, official = import_official(args.janus)
    from janus.models.modeling_vlm import MultiModalityConfig

    write_model_dir(build_tokenizer_json())
    torch.manual_seed(SEED)
    model = official.MultiModalityCausalLM(MultiModalityConfig(**CONFIG)).eval()
    lc = model.language_model.config
    assert lc.rms_norm_eps == 1e-6 and lc.rope_theta == 10000.0 and not lc.tie_word_embeddings
    assert model.vision_model.image_norm is None
    init_weights(model, SEED)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    assert any(k.startswith("gen_vision_model.") for k in state) and "gen_embed.weight" in state
    save_file(state, os.path.join(MODEL_DIR, "model.safetensors"), metadata={"format": "pt"})

    processor = official.VLChatProcessor.from_pretrained(MODEL_DIR)
    assert (processor.image_id, processor.image_start_id, processor.image_end_id) == (IMAGE_ID, BOI_ID, EOI_ID)
    assert processor.pad_id == PAD_ID and processor.tokenizer.bos_token_id == BOS_ID

    tensors, infos = {}, []
    for case in CASES:
        t, info = run_case(model, processor, case, case["intermediates"])
        tensors.update({f"{case['name']}.{k}": v for k, v in t.items()})
        infos.append((case, info))

    # The directory loads with the official from_pretrained and gives the same numbers.
    reloaded, loading = official.MultiModalityCausalLM.from_pretrained(MODEL_DIR, output_loading_info=True)
    reloaded.eval()
    assert not any(loading.values()), loading
    assert set(load_file(os.path.join(MODEL_DIR, "model.safetensors"))) == set(reloaded.state_dict())
    processor2 = official.VLChatProcessor.from_pretrained(MODEL_DIR)
    for case, info in infos:
        _, again = run_case(reloaded, processor2, case, False)
        assert torch.equal(info["logits"], again["logits"]), case["name"]

    about = {"reference": "official Janus code", "code": JANUS_CODE, "versions": versions(),
             "cases": [{"name": c["name"], "images": i["images"], "sft_format": i["sft_format"],
                        "system_prompt": i["system_prompt"], "num_tokens": i["num_tokens"]} for c, i in infos]}
    save_file(tensors, os.path.join(MODEL_DIR, "reference.safetensors"),
              metadata={"dsvl_reference": json.dumps(about, ensure_ascii=False, sort_keys=True)})
    n_params = sum(v.numel() for v in state.values())
    with open(os.path.join(OUT_DIR, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(infos, tensors, n_params))
    tmp.cleanup()

    print(f"{n_params} parameters; " + ", ".join(f"{c['name']} T={i['num_tokens']} margin={i['min_greedy_margin']:.3g}"
                                                 for c, i in infos))
    total = 0
    for root, _, files in os.walk(OUT_DIR):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            total += os.path.getsize(p)
            print(f"  {os.path.relpath(p, REPO)}: {os.path.getsize(p)} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
