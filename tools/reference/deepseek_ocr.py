"""End-to-end reference fixtures for DeepSeek-OCR: a tiny random-weight model run by the official code.

Writes tests/data/deepseek_ocr/:

    page_small.png, page_wide.png, page_tall.png
                                 the test pages (500x380, 1500x720, 760x1400), drawn here: white
                                 paper, dark text-like bars in paragraphs, a coloured figure, a table
    tiling.json                  the official count_tiles choice for 52 image sizes (MIN_CROPS 2,
                                 MAX_CROPS 6 and 9, tile 640) and the image-token count of every mode
    README.md                    what every file and tensor is (generated: names, dtypes, shapes)
    tiny-ocr/                    the model folder: config.json, model.safetensors (float32),
                                 processor_config.json, tokenizer.json, tokenizer_config.json, and
                                 reference.safetensors, what the official code computed with it

The official code
-----------------
DeepSeek-OCR's inference code is not on PyPI. It is read at run time from a clone of

    github.com/deepseek-ai/DeepSeek-OCR at e4ac34e1e59b891163fb9325480fbedec865e1f0

(`git show <commit>:<path>` of DeepSeek-OCR-master/DeepSeek-OCR-vllm/deepencoder/{sam_vary_sdpa,
clip_sdpa,build_linear}.py and process/{image_process,ngram_norepeat}.py into a temporary folder that
is put on the import path; nothing of it is copied into this repository). Two modules it imports are
replaced by stand-ins registered in sys.modules before the import:

  - `flash_attn`: imported by sam_vary_sdpa.py and clip_sdpa.py but not called on the path that runs
    here (SAM always uses torch's scaled_dot_product_attention; the CLIP config has
    use_flash_attn=False). The stand-in's functions raise if called.
  - `config`: the official config.py reads a tokenizer from the hub at import. The stand-in holds the
    same constants (BASE_SIZE, IMAGE_SIZE, CROP_MODE, MIN_CROPS, MAX_CROPS, PROMPT, TOKENIZER, ...)
    with TOKENIZER loaded from tiny-ocr/. image_process.py binds MIN_CROPS / MAX_CROPS as default
    arguments at import (MAX_CROPS = 9, see below) and reads IMAGE_SIZE, BASE_SIZE and PROMPT as
    module globals when the processor is built and called, so the script sets those globals of the
    imported module per case, as editing config.py for a mode does.

The vLLM model class (deepseek_ocr.py, DeepseekOCRForCausalLM) imports vLLM, which is not available
on a CPU-only machine, so this script does not import it. It reproduces exactly the tensor operations
of DeepseekOCRForCausalLM._pixel_values_to_embedding (the function `pixel_values_to_embedding` below,
line for line, without the bfloat16 casts: everything here is float32) and of
merge_multimodal_embeddings (image-token rows replaced in order), and calls the official modules
for every learned part: ImageEncoderViT (SAM), VitModel (CLIP), MlpProjector, get_abs_pos. The
processor is the official DeepseekOCRProcessor.tokenize_with_images, called as
run_dpsk_ocr_image.py calls it (bos=True, eos=True, cropping=CROP_MODE), on the image as
load_image(...).convert('RGB') returns it. The pixel tensors get one leading batch dimension, as
vLLM hands one request's fields to the model.

The language model is DeepSeek-VL2-Tiny's (use_mla false): transformers' LlamaAttention (plain MHA,
rotate-half RoPE, theta 10000), softmax router with greedy top-k, no renormalisation. It is built
with the official DeepSeek-VL2 DeepseekV2ForCausalLM (github.com/deepseek-ai/DeepSeek-VL2 at
ef9f91e2b6426536b83294c11742c27be66361b1, as tools/reference/deepseek_vl2.py builds its tiny-mha
variant). vLLM would run the same function with its DeepseekForCausalLM; the released checkpoint's
language tensors carry the DeepseekV2ForCausalLM names (model.layers.*, lm_head.weight), which
DeepseekOCRForCausalLM.load_weights maps to the vLLM module.

The no-repeat rule is the official NoRepeatNGramLogitsProcessor (process/ngram_norepeat.py) applied
as vLLM 0.8.5 (the version the repository pins, V0 engine: run_dpsk_ocr_image.py sets
VLLM_USE_V1=0) applies a logits processor: its __call__ takes two parameters, so vLLM calls
`processor(past_tokens_ids, logits_row)` with past_tokens_ids = the sequence's output_token_ids (the
generated tokens only, never the prompt), once per generated token, on that token's logits row,
before the greedy choice (temperature 0). The script uses ngram_size 3, window_size 12 and the
whitelist {id of `<td>`} (the release uses 30, 90 and {`<td>`, `</td>`}: 128821, 128822).

The tiny model
--------------
Every size of the vision stack that matters is hard-coded in the official builders (build_sam_vit_b,
build_clip_l, and `n_embed = 1280` / `input_dim=2048` in DeepseekOCRForCausalLM.__init__), so the
script constructs the official classes with tiny arguments instead:

  - SAM: ImageEncoderViT(img_size=1024, patch_size=16, embed_dim=32, depth=4, num_heads=2,
    mlp_ratio=4, out_chans=256, qkv_bias=True, norm_layer=LayerNorm(eps=1e-6), use_rel_pos=True,
    global_attn_indexes=[1, 3], window_size=14): the arguments of _build_sam except width, depth,
    heads and the global blocks. pos_embed is 1x64x64x32; window blocks have 27-row rel-pos tables,
    global blocks 127-row ones. The neck keeps 256 channels (fixed by _build_sam). ImageEncoderViT
    hard-codes net_2 = Conv2d(256, 512, 3, 2, 1, bias=False) and net_3 = Conv2d(512, 1024, ...); the
    script replaces them with Conv2d(256, 32, 3, 2, 1, bias=False) and Conv2d(32, 64, 3, 2, 1,
    bias=False): the same operation with fewer channels (vision_config downsample_channels [32, 64]).
  - CLIP: VitModel with build_clip_l's configuration (vit_model_cfg) except num_layers 2, hidden_size
    64, num_attention_heads 2, ffn_hidden_size 256 (4 x width, as 4096 = 4 x 1024): image_size 224
    and patch_size 14 (a 257 x 64 position table), LayerNorm eps 1e-5 (pre_layrnorm too), quick GELU.
    Its patch_embedding is built and saved, as in the released checkpoint, but never used: the
    official code feeds the SAM output as the patch embeddings.
  - projector: MlpProjector(Dict(projector_type="linear", input_dim=128, n_embed=64)); image_newline
    and view_seperator have 64 entries.
  - language: tests/data/deepseek_vl2/tiny-mha/config.json's language_config (hidden 64, 3 layers,
    4 heads, layer 0 dense, 8 routed experts top-3 + 2 shared, vocab 672) with
    max_position_embeddings 8192 as released.

Weights are random (seeded; one generator for the vision side, one for the language model) with
scales that keep activations O(1); every parameter is set, those the official init zeroes included
(rel-pos tables, pos_embed, biases, LayerNorm weights and biases). The lm_head row of `<td>` is drawn
TD_BOOST times larger, so that the model emits `<td>` and the no-repeat whitelist decides tokens. The
file holds exactly the released checkpoint's tensor names (the script checks them against the
released name list, with layer and expert numbers abstracted): model.sam_model.*,
model.vision_model.*, model.projector.layers.{weight,bias}, model.image_newline,
model.view_seperator, model.embed_tokens.weight, model.layers.*, model.norm.weight, lm_head.weight.
model.vision_model.embeddings.position_ids (a buffer) is not in the released file (transformers
reports it as newly initialised when loading it) and is not written here.

The run is float32 on CPU, one thread, deterministic algorithms (the official demos run bfloat16 on
GPU). The script asserts, per case: the pixels the model got are exactly (float32(u8)/255 - 0.5)/0.5
of uint8 images; the image rows of inputs_embeds are the layout of projector outputs, image_newline
and view_seperator, and the other rows are embed_tokens rows; the 16 KV-cached greedy tokens
(transformers' generate) equal an uncached re-run and the script's own cached loop; every greedy
step (plain, with the no-repeat rule, and without its whitelist up to the first difference) has
top-1 minus top-2 > 0.01 and no EOS; no MoE routing decision is within 1e-4 of a tie in router
logits; the no-repeat rule changes the greedy tokens in at least two cases and its whitelist decides a
token in at least one. The language-model seed was picked so that these hold. Re-running the script
reproduces every file byte for byte.

The folder must stay under 8 MB, and the weights take 5.3 MB (the 256-channel neck alone 2.4 MB), so
reference.safetensors leaves out what follows from what it keeps (the README lists it): the
projector outputs (the image rows of inputs_embeds), global.sam / global.clip of the cases whose
global view takes base's 1024-px path, the tiny case's SAM intermediates outside three grid rows,
and the two intermediates equal to global.sam / global.clip.

Environment: torch and torchvision as DeepSeek-OCR's README pins them; transformers and tokenizers as
DeepSeek-VL2 pins them (its DeepseekV2ForCausalLM cannot generate from inputs_embeds under the
4.46.3 that DeepSeek-OCR's requirements.txt names; the OCR code run here uses transformers only for
the tokenizer and ProcessorMixin); timm and attrdict only for importing deepseek_vl2:

    git clone https://github.com/deepseek-ai/DeepSeek-OCR /tmp/DeepSeek-OCR
    git -C /tmp/DeepSeek-OCR checkout e4ac34e1e59b891163fb9325480fbedec865e1f0
    git clone https://github.com/deepseek-ai/DeepSeek-VL2 /tmp/DeepSeek-VL2
    git -C /tmp/DeepSeek-VL2 checkout ef9f91e2b6426536b83294c11742c27be66361b1
    python3.11 -m venv /tmp/ocr-ref && . /tmp/ocr-ref/bin/activate
    pip install torch==2.6.0 torchvision==0.21.0 transformers==4.38.2 tokenizers==0.15.2 \\
        pillow==10.2.0 numpy==2.4.6 safetensors==0.8.0 einops easydict addict timm==0.9.16 attrdict==2.0.1
    pip install --no-deps /tmp/DeepSeek-VL2

Then, from the repository root (a few minutes on one core):

    python tools/reference/deepseek_ocr.py --deepseek-ocr /tmp/DeepSeek-OCR
"""

import argparse
import importlib.machinery
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import types
from functools import partial

import numpy as np
import PIL
import safetensors
import tokenizers
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import transformers
from PIL import Image, ImageDraw, ImageOps
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(REPO, "tests", "data", "deepseek_ocr")
MODEL_DIR = os.path.join(OUT_DIR, "tiny-ocr")
VL2_TINY = os.path.join(REPO, "tests", "data", "deepseek_vl2", "tiny-mha")

OCR_CODE = {"repository": "github.com/deepseek-ai/DeepSeek-OCR", "commit": "e4ac34e1e59b891163fb9325480fbedec865e1f0"}
VL2_CODE = {"repository": "github.com/deepseek-ai/DeepSeek-VL2", "commit": "ef9f91e2b6426536b83294c11742c27be66361b1"}
OCR_VLLM_DIR = "DeepSeek-OCR-master/DeepSeek-OCR-vllm"
OCR_FILES = ["deepencoder/__init__.py", "deepencoder/sam_vary_sdpa.py", "deepencoder/clip_sdpa.py",
             "deepencoder/build_linear.py", "process/__init__.py", "process/image_process.py",
             "process/ngram_norepeat.py"]

# Seeds of the weights: the vision side (model.sam_model, vision_model, projector, image_newline,
# view_seperator) and the language model are drawn from separate generators.
VISION_SEED = 2025
LM_SEED = 120
BOS_ID, EOS_ID, PAD_ID = 0, 1, 2
IMAGE_ID = 640
TD, TD_CLOSE = "<td>", "</td>"
TD_ID, TD_CLOSE_ID = 648, 649   # the next free ids after deepseek-vl2's added tokens (640-647)
LM_VOCAB = 672
HIDDEN = 64
GREEDY_STEPS = 16
NGRAM_STEPS = 24
NGRAM_SIZE, NGRAM_WINDOW = 3, 12
LOGIT_ROWS = 8
HIDDEN_ROWS = 32
MIN_GREEDY_MARGIN = 1e-2
MIN_ROUTER_GAP = 1e-4   # between the k-th and (k+1)-th router logit (softmax keeps their order)
TD_BOOST = 2.5          # the lm_head row of <td> is drawn this much larger (see init_weights)
MIN_NGRAM_CASES = 2     # cases in which the no-repeat rule changes the greedy tokens

# The released MAX_CROPS: config.py says 6 ("max: 9"); the Hugging Face modeling_deepseekocr.py calls
# dynamic_preprocess(image) with its defaults min_num=2, max_num=9. The gundam cases use 9.
MIN_CROPS, MAX_CROPS = 2, 9

SAM = {"width": 32, "layers": 4, "heads": 2, "global_attn_indexes": [1, 3], "downsample_channels": [32, 64],
       "window": 14, "patch": 16, "image": 1024, "neck": 256, "mlp_ratio": 4}
CLIP = {"width": 64, "layers": 2, "heads": 2, "image_size": 224, "patch_size": 14, "ffn": 256}
PROJ_IN = CLIP["width"] + SAM["downsample_channels"][1]
# The SAM intermediates of the tiny case (32 x 32 grid at 512 px) are kept at these grid rows (all 32
# columns): the top row, the first row of the second 14-row window, the last real row of the third
# window (whose rows 32-41 are zero padding).
SAM_ROWS = [0, 14, 31]

# Modes as config.py describes them: base_size, image_size, crop_mode.
MODES = {"tiny": (512, 512, False), "small": (640, 640, False), "base": (1024, 1024, False),
         "large": (1280, 1280, False), "gundam": (1024, 640, True)}
DOC_PROMPT = "<image>\n<|grounding|>Convert the document to markdown."
FREE_PROMPT = "<image>\nFree OCR."
PAGES = {"page_small.png": (500, 380, 11), "page_wide.png": (1500, 720, 12), "page_tall.png": (760, 1400, 13)}
# global: the case records global.sam and global.clip (one case per global-view size: the others run
# the 1024-px path of `base`); intermediates: every step of the global view (the tiny case).
CASES = [
    {"name": "tiny", "mode": "tiny", "image": "page_tall.png", "prompt": DOC_PROMPT, "global": True,
     "intermediates": True},
    {"name": "small", "mode": "small", "image": "page_wide.png", "prompt": DOC_PROMPT, "global": True},
    {"name": "base", "mode": "base", "image": "page_tall.png", "prompt": DOC_PROMPT, "global": True},
    {"name": "large", "mode": "large", "image": "page_wide.png", "prompt": DOC_PROMPT, "global": True},
    {"name": "gundam_wide", "mode": "gundam", "image": "page_wide.png", "prompt": DOC_PROMPT},
    {"name": "gundam_tall", "mode": "gundam", "image": "page_tall.png", "prompt": DOC_PROMPT},
    {"name": "gundam_small", "mode": "gundam", "image": "page_small.png", "prompt": DOC_PROMPT},
    {"name": "free", "mode": "base", "image": "page_small.png", "prompt": FREE_PROMPT},
]

# The released checkpoint's tensor names with every layer / block / expert number replaced by N
# (deepseek-ai/DeepSeek-OCR model.safetensors.index.json: 2711 entries in a float32 re-save that also
# holds model.vision_model.embeddings.position_ids, which the release does not).
RELEASED_NAME_PATTERNS = """
lm_head.weight
model.embed_tokens.weight
model.image_newline
model.layers.N.input_layernorm.weight
model.layers.N.mlp.down_proj.weight
model.layers.N.mlp.experts.N.down_proj.weight
model.layers.N.mlp.experts.N.gate_proj.weight
model.layers.N.mlp.experts.N.up_proj.weight
model.layers.N.mlp.gate.weight
model.layers.N.mlp.gate_proj.weight
model.layers.N.mlp.shared_experts.down_proj.weight
model.layers.N.mlp.shared_experts.gate_proj.weight
model.layers.N.mlp.shared_experts.up_proj.weight
model.layers.N.mlp.up_proj.weight
model.layers.N.post_attention_layernorm.weight
model.layers.N.self_attn.k_proj.weight
model.layers.N.self_attn.o_proj.weight
model.layers.N.self_attn.q_proj.weight
model.layers.N.self_attn.v_proj.weight
model.norm.weight
model.projector.layers.bias
model.projector.layers.weight
model.sam_model.blocks.N.attn.proj.bias
model.sam_model.blocks.N.attn.proj.weight
model.sam_model.blocks.N.attn.qkv.bias
model.sam_model.blocks.N.attn.qkv.weight
model.sam_model.blocks.N.attn.rel_pos_h
model.sam_model.blocks.N.attn.rel_pos_w
model.sam_model.blocks.N.mlp.lin1.bias
model.sam_model.blocks.N.mlp.lin1.weight
model.sam_model.blocks.N.mlp.lin2.bias
model.sam_model.blocks.N.mlp.lin2.weight
model.sam_model.blocks.N.norm1.bias
model.sam_model.blocks.N.norm1.weight
model.sam_model.blocks.N.norm2.bias
model.sam_model.blocks.N.norm2.weight
model.sam_model.neck.N.bias
model.sam_model.neck.N.weight
model.sam_model.net_2.weight
model.sam_model.net_3.weight
model.sam_model.patch_embed.proj.bias
model.sam_model.patch_embed.proj.weight
model.sam_model.pos_embed
model.view_seperator
model.vision_model.embeddings.class_embedding
model.vision_model.embeddings.patch_embedding.weight
model.vision_model.embeddings.position_embedding.weight
model.vision_model.pre_layrnorm.bias
model.vision_model.pre_layrnorm.weight
model.vision_model.transformer.layers.N.layer_norm1.bias
model.vision_model.transformer.layers.N.layer_norm1.weight
model.vision_model.transformer.layers.N.layer_norm2.bias
model.vision_model.transformer.layers.N.layer_norm2.weight
model.vision_model.transformer.layers.N.mlp.fc1.bias
model.vision_model.transformer.layers.N.mlp.fc1.weight
model.vision_model.transformer.layers.N.mlp.fc2.bias
model.vision_model.transformer.layers.N.mlp.fc2.weight
model.vision_model.transformer.layers.N.self_attn.out_proj.bias
model.vision_model.transformer.layers.N.self_attn.out_proj.weight
model.vision_model.transformer.layers.N.self_attn.qkv_proj.bias
model.vision_model.transformer.layers.N.self_attn.qkv_proj.weight
""".split()


# ---------------------------------------------------------------------------------------------
# Files, written atomically (a temporary file in the same folder, then os.replace)


def atomic_write(path, write):
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text):
    def w(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    atomic_write(path, w)


def round_floats(obj):
    """Floats as 9 significant digits (round-trips float32)."""
    if isinstance(obj, float):
        return float(f"{obj:.9g}")
    if isinstance(obj, dict):
        return {k: round_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v) for v in obj]
    return obj


def write_json(path, obj, sort_keys=True):
    write_text(path, json.dumps(round_floats(obj), ensure_ascii=False, indent=2, sort_keys=sort_keys) + "\n")


def write_safetensors(path, tensors, metadata):
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def write_png(path, img):
    atomic_write(path, lambda tmp: img.save(tmp, "PNG", optimize=True))


# ---------------------------------------------------------------------------------------------
# The official code, read from a DeepSeek-OCR clone into a temporary import folder


def raise_unused(*_a, **_k):
    raise RuntimeError("flash_attn is not used on the path these fixtures take")


def install_stand_ins(tokenizer):
    fa = types.ModuleType("flash_attn")
    fa.__spec__ = importlib.machinery.ModuleSpec("flash_attn", None)  # find_spec works; no metadata: "absent"
    fa.flash_attn_qkvpacked_func = raise_unused
    fa.flash_attn_func = raise_unused
    sys.modules["flash_attn"] = fa
    cfg = types.ModuleType("config")
    # config.py's constants at the repository commit, except TOKENIZER (loaded from tiny-ocr/) and
    # MAX_CROPS (9, the Hugging Face release's value; config.py says 6, "max: 9").
    cfg.BASE_SIZE, cfg.IMAGE_SIZE, cfg.CROP_MODE = 1024, 640, True
    cfg.MIN_CROPS, cfg.MAX_CROPS = MIN_CROPS, MAX_CROPS
    cfg.MAX_CONCURRENCY, cfg.NUM_WORKERS = 100, 64
    cfg.PRINT_NUM_VIS_TOKENS, cfg.SKIP_REPEAT = False, True
    cfg.MODEL_PATH, cfg.INPUT_PATH, cfg.OUTPUT_PATH = MODEL_DIR, "", ""
    cfg.PROMPT = DOC_PROMPT
    cfg.TOKENIZER = tokenizer
    sys.modules["config"] = cfg
    return cfg


def extract_official(clone, folder):
    head = subprocess.run(["git", "-C", clone, "rev-parse", OCR_CODE["commit"] + "^{commit}"], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert head == OCR_CODE["commit"], head
    for rel in OCR_FILES:
        text = subprocess.run(["git", "-C", clone, "show", f"{OCR_CODE['commit']}:{OCR_VLLM_DIR}/{rel}"],
                              check=True, capture_output=True).stdout
        dst = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(text)


class Official:
    """The imported official modules."""

    def __init__(self, clone, tokenizer):
        self.tmp = tempfile.TemporaryDirectory(prefix="dsvl_ocr_ref_")
        extract_official(clone, self.tmp.name)
        self.config = install_stand_ins(tokenizer)
        sys.path.insert(0, self.tmp.name)
        # This file is named like the official vLLM model module: keep its folder off the import path.
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
        import deepencoder.build_linear as build_linear
        import deepencoder.clip_sdpa as clip_sdpa
        import deepencoder.sam_vary_sdpa as sam_vary_sdpa
        import process.image_process as image_process
        import process.ngram_norepeat as ngram_norepeat
        self.sam = sam_vary_sdpa
        self.clip = clip_sdpa
        self.linear = build_linear
        self.ip = image_process
        self.ngram = ngram_norepeat
        assert image_process.dynamic_preprocess.__defaults__[:2] == (MIN_CROPS, MAX_CROPS)
        assert image_process.count_tiles.__defaults__[:2] == (MIN_CROPS, MAX_CROPS)

    def processor(self, mode, prompt):
        """A DeepseekOCRProcessor for a mode, with config.py's globals set as for that mode."""
        base, size, crop = MODES[mode]
        for m in (self.ip, self.config):
            m.BASE_SIZE, m.IMAGE_SIZE, m.CROP_MODE, m.PROMPT = base, size, crop, prompt
        proc = self.ip.DeepseekOCRProcessor(tokenizer=self.config.TOKENIZER)
        assert (proc.base_size, proc.image_size, proc.image_token_id) == (base, size, IMAGE_ID)
        return proc, crop


# ---------------------------------------------------------------------------------------------
# The model folder


def language_config():
    with open(os.path.join(VL2_TINY, "config.json"), encoding="utf-8") as f:
        lc = json.load(f)["language_config"]
    assert lc["use_mla"] is False and lc["hidden_size"] == HIDDEN and lc["vocab_size"] == LM_VOCAB
    lc = dict(lc)
    lc["max_position_embeddings"] = 8192
    return lc


# The released config.json repeats these language_config keys at the top level.
ROOT_MIRROR = ["bos_token_id", "eos_token_id", "first_k_dense_replace", "hidden_size", "intermediate_size",
               "kv_lora_rank", "lm_head", "max_position_embeddings", "moe_intermediate_size", "n_group",
               "n_routed_experts", "n_shared_experts", "num_attention_heads", "num_experts_per_tok",
               "num_hidden_layers", "num_key_value_heads", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
               "rm_head", "topk_group", "topk_method", "use_mla", "v_head_dim", "vocab_size"]


def model_config():
    lc = language_config()
    c = {"architectures": ["DeepseekOCRForCausalLM"],
         "auto_map": {"AutoConfig": "modeling_deepseekocr.DeepseekOCRConfig",
                      "AutoModel": "modeling_deepseekocr.DeepseekOCRForCausalLM"},
         "candidate_resolutions": [[1024, 1024]], "global_view_pos": "head", "language_config": lc,
         "model_type": "deepseek_vl_v2",
         "projector_config": {"input_dim": PROJ_IN, "model_type": "mlp_projector", "n_embed": HIDDEN,
                              "projector_type": "linear"},
         "tile_tag": "2D", "torch_dtype": "float32", "transformers_version": transformers.__version__,
         "vision_config": {"image_size": SAM["image"], "mlp_ratio": 3.7362, "model_name": "deeplip_b_l",
                           "model_type": "vision",
                           "width": {"clip-l-14-224": {"heads": CLIP["heads"], "image_size": CLIP["image_size"],
                                                       "layers": CLIP["layers"], "patch_size": CLIP["patch_size"],
                                                       "width": CLIP["width"]},
                                     "sam_vit_b": {"downsample_channels": SAM["downsample_channels"],
                                                   "global_attn_indexes": SAM["global_attn_indexes"],
                                                   "heads": SAM["heads"], "layers": SAM["layers"],
                                                   "width": SAM["width"]}}}}
    for k in ROOT_MIRROR:
        c[k] = lc[k]
    return c


def processor_config():
    # deepseek-ai/DeepSeek-OCR processor_config.json (the processor ignores it: patch_size 16 and
    # downsample_ratio 4 are hard-coded in DeepseekOCRProcessor.__init__, the sizes come from config.py).
    return {"add_special_token": False, "candidate_resolutions": [[1024, 1024]], "downsample_ratio": 4,
            "ignore_id": -100, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "image_token": "<image>",
            "mask_prompt": False, "normalize": True, "pad_token": "<｜▁pad▁｜>", "patch_size": 16,
            "processor_class": "DeepseekVLV2Processor", "sft_format": "deepseek"}


def added_token(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
            "special": True}


def tokenizer_files():
    with open(os.path.join(VL2_TINY, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    with open(os.path.join(VL2_TINY, "tokenizer_config.json"), encoding="utf-8") as f:
        tcfg = json.load(f)
    assert [a["id"] for a in tok["added_tokens"]][-1] == TD_ID - 1
    assert TD not in tok["model"]["vocab"] and TD_CLOSE not in tok["model"]["vocab"]
    tok["added_tokens"] += [added_token(TD_ID, TD), added_token(TD_CLOSE_ID, TD_CLOSE)]
    for i, c in ((TD_ID, TD), (TD_CLOSE_ID, TD_CLOSE)):
        tcfg["added_tokens_decoder"][str(i)] = {k: v for k, v in added_token(i, c).items() if k != "id"}
    tcfg["processor_class"] = "DeepseekVLV2Processor"
    return tok, tcfg


def write_model_folder():
    write_json(os.path.join(MODEL_DIR, "config.json"), model_config())
    write_json(os.path.join(MODEL_DIR, "processor_config.json"), processor_config())
    tok, tcfg = tokenizer_files()
    write_json(os.path.join(MODEL_DIR, "tokenizer_config.json"), tcfg)
    write_text(os.path.join(MODEL_DIR, "tokenizer.json"), json.dumps(tok, ensure_ascii=False, indent=2) + "\n")


class TinyOCR(nn.Module):
    """The checkpoint layout: model.{sam_model, vision_model, projector, image_newline, view_seperator}
    beside the language model's model.* and lm_head."""

    def __init__(self, off, lm):
        super().__init__()
        sam = off.sam.ImageEncoderViT(
            img_size=SAM["image"], patch_size=SAM["patch"], embed_dim=SAM["width"], depth=SAM["layers"],
            num_heads=SAM["heads"], mlp_ratio=SAM["mlp_ratio"], out_chans=SAM["neck"], qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
            global_attn_indexes=SAM["global_attn_indexes"], window_size=SAM["window"])
        c2, c3 = SAM["downsample_channels"]
        sam.net_2 = nn.Conv2d(SAM["neck"], c2, kernel_size=3, stride=2, padding=1, bias=False)
        sam.net_3 = nn.Conv2d(c2, c3, kernel_size=3, stride=2, padding=1, bias=False)
        cfg = off.clip.adict(dict(off.clip.vit_model_cfg))
        cfg.update(num_layers=CLIP["layers"], hidden_size=CLIP["width"], num_heads=CLIP["heads"],
                   num_attention_heads=CLIP["heads"], ffn_hidden_size=CLIP["ffn"])
        assert (cfg.image_size, cfg.patch_size, cfg.layernorm_epsilon, cfg.pre_layernorm_epsilon,
                cfg.use_flash_attn) == (CLIP["image_size"], CLIP["patch_size"], 1e-5, 1e-5, False)
        clip = off.clip.VitModel(cfg=cfg, freeze_embed=False, freeze_pre_norm=False)
        from addict import Dict
        proj = off.linear.MlpProjector(Dict(projector_type="linear", input_dim=PROJ_IN, n_embed=HIDDEN))
        self.model = nn.Module()
        self.model.sam_model = sam
        self.model.vision_model = clip
        self.model.projector = proj
        self.model.image_newline = nn.Parameter(torch.zeros(HIDDEN))
        self.model.view_seperator = nn.Parameter(torch.zeros(HIDDEN))
        self.lm = lm

    def checkpoint_state(self):
        state = {"model." + k: v for k, v in self.model.state_dict().items()}
        del state["model.vision_model.embeddings.position_ids"]
        for k, v in self.lm.state_dict().items():
            assert k not in state
            state[k] = v
        return {k: v.detach().clone().contiguous() for k, v in state.items()}


def init_weights(named, seed):
    """Seeded values for every parameter, in state_dict order (one generator for the vision modules,
    one for the language model).

    Matrices and conv kernels (router included): N(0, 1/fan_in). Biases: N(0, 0.1^2). LayerNorm /
    RMSNorm weights: 1 + N(0, 0.1^2). SAM pos_embed, CLIP position_embedding and class_embedding:
    N(0, 0.5^2). SAM rel_pos tables: N(0, 0.3^2). Token embeddings, image_newline,
    view_seperator: N(0, 1). lm_head: N(0, 16/fan_in), so that the logits spread enough for
    unambiguous greedy steps, with the row of <td> times TD_BOOST so that the model emits <td> and
    the no-repeat whitelist decides some tokens.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in named:
            leaf = name.rsplit(".", 1)[-1]
            shape = tuple(p.shape)
            randn = lambda: torch.randn(shape, generator=gen, dtype=torch.float32)
            if name.endswith("embed_tokens.weight") or leaf in ("image_newline", "view_seperator"):
                v = randn()
            elif name.endswith("lm_head.weight"):
                v = 4.0 * randn() / math.sqrt(shape[1])
                v[TD_ID] *= TD_BOOST
            elif leaf in ("pos_embed", "class_embedding") or name.endswith("position_embedding.weight"):
                v = 0.5 * randn()
            elif leaf in ("rel_pos_h", "rel_pos_w"):
                v = 0.3 * randn()
            elif leaf == "bias":
                v = 0.1 * randn()
            elif leaf == "weight" and len(shape) == 1:
                v = 1.0 + 0.1 * randn()
            elif leaf == "weight":
                v = randn() / math.sqrt(math.prod(shape[1:]))
            else:
                raise ValueError(f"no init rule for {name} {shape}")
            p.copy_(v)


def check_names(state):
    import re
    pat = {re.sub(r"\.\d+(?=\.|$)", ".N", k) for k in state}
    released = set(RELEASED_NAME_PATTERNS)
    assert pat == released, (sorted(pat - released), sorted(released - pat))


# ---------------------------------------------------------------------------------------------
# Pages


def draw_page(w, h, seed):
    """A document-like RGB page: title, paragraphs of word bars, a coloured figure, a table grid."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    m = max(12, round(0.06 * min(w, h)))
    lh = max(9, round(min(w, h) / 28))          # line pitch
    bh = max(4, round(lh * 0.55))               # bar (x-height) thickness
    ink = [(28, 28, 32), (45, 40, 38), (20, 30, 60)]

    def words(x0, x1, y, last=False):
        x = x0
        end = x1 if not last else x0 + int((x1 - x0) * rng.uniform(0.3, 0.8))
        while x < end:
            ww = int(rng.integers(bh * 2, bh * 9))
            if x + ww > end:
                break
            d.rectangle([x, y, x + ww - 1, y + bh - 1], fill=ink[int(rng.integers(0, 3))])
            x += ww + max(3, bh)

    def paragraph(x0, x1, y, lines):
        for i in range(lines):
            words(x0, x1, y, last=(i == lines - 1))
            y += lh
        return y + lh // 2

    # Title.
    y = m
    d.rectangle([m, y, m + int((w - 2 * m) * 0.55), y + int(bh * 1.8)], fill=(15, 15, 15))
    y += int(bh * 1.8) + lh
    wide = w > h * 1.5
    tall = h > w * 1.5
    if wide:
        # Two text columns on the left, figure top right, table bottom right.
        col = (w - 3 * m) // 3
        yy = y
        for c in range(2):
            x0 = m + c * (col + m)
            y2 = yy
            while y2 < h - m - 3 * lh:
                y2 = paragraph(x0, x0 + col, y2, int(rng.integers(3, 7)))
        fx0, fx1 = m + 2 * (col + m), w - m
        fy0, fy1 = yy, yy + (h - yy - m) // 2 - lh
        table = (fx0, fy1 + lh, fx1, h - m)
    else:
        y = paragraph(m, w - m, y, 4)
        fx0, fx1 = m + (w - 2 * m) // 8, w - m - (w - 2 * m) // 8
        fy0 = y
        fy1 = y + int((h - y - m) * (0.3 if tall else 0.42))
        y = fy1 + lh
        if tall:
            y = paragraph(m, w - m, y, 5)
            y = paragraph(m, w - m, y, 3)
        table = (m, y, w - m, min(h - m, y + int((h - y - m) * (0.55 if tall else 0.9))))
        if tall:
            y2 = table[3] + lh
            while y2 < h - m - lh:
                y2 = paragraph(m, w - m, y2, int(rng.integers(2, 5)))
    # Figure: a coloured panel with a plot-like content.
    d.rectangle([fx0, fy0, fx1, fy1], fill=(222, 235, 250), outline=(40, 70, 140), width=2)
    nb = 7
    bw = (fx1 - fx0) / (nb * 1.6 + 0.6)
    for i in range(nb):
        bx = fx0 + bw * (0.6 + 1.6 * i)
        top = fy1 - 4 - (fy1 - fy0 - 12) * float(rng.uniform(0.15, 0.95))
        d.rectangle([round(bx), round(top), round(bx + bw), fy1 - 4], fill=[(214, 80, 46), (58, 132, 70),
                                                                           (240, 180, 40)][i % 3])
    d.line([fx0 + 6, fy0 + (fy1 - fy0) // 3, fx1 - 6, fy0 + (fy1 - fy0) // 5], fill=(120, 30, 140), width=3)
    # Table: a grid with a header row and short bars in the cells.
    tx0, ty0, tx1, ty1 = table
    rows = max(3, min(8, (ty1 - ty0) // (2 * lh)))
    cols = 4 if w >= 700 else 3
    rh = (ty1 - ty0) / rows
    cw = (tx1 - tx0) / cols
    d.rectangle([tx0, ty0, tx1, round(ty0 + rh)], fill=(235, 235, 235))
    for r in range(rows + 1):
        d.line([tx0, round(ty0 + r * rh), tx1, round(ty0 + r * rh)], fill=(60, 60, 60), width=1 if r else 2)
    for c in range(cols + 1):
        d.line([round(tx0 + c * cw), ty0, round(tx0 + c * cw), ty1], fill=(60, 60, 60), width=1)
    for r in range(rows):
        for c in range(cols):
            cx0 = tx0 + c * cw + bh
            cy = ty0 + r * rh + (rh - bh) / 2
            ww = (cw - 2 * bh) * float(rng.uniform(0.25, 0.85))
            d.rectangle([round(cx0), round(cy), round(cx0 + ww), round(cy + bh - 1)],
                        fill=(15, 15, 15) if r == 0 else ink[int(rng.integers(0, 3))])
    return img


def write_pages():
    for name, (w, h, seed) in PAGES.items():
        write_png(os.path.join(OUT_DIR, name), draw_page(w, h, seed))


def load_image(name):
    # As run_dpsk_ocr_image.py: Image.open, ImageOps.exif_transpose, then .convert('RGB').
    return ImageOps.exif_transpose(Image.open(os.path.join(OUT_DIR, name))).convert("RGB")


# ---------------------------------------------------------------------------------------------
# Running the official code


class Recorder:
    """Forward hooks that keep module outputs (and inputs) by name, one entry per call."""

    def __init__(self):
        self.out = {}
        self.handles = []

    def output(self, module, key, fn=lambda i, o: o):
        def hook(_m, inp, out):
            v = fn(inp, out)
            self.out.setdefault(key, []).append(v.detach().clone())
        self.handles.append(module.register_forward_hook(hook))

    def pre(self, module, key):
        def hook(_m, inp):
            self.out.setdefault(key, []).append(inp[0].detach().clone())
        self.handles.append(module.register_forward_pre_hook(hook))

    def close(self):
        for h in self.handles:
            h.remove()


def pixel_values_to_embedding(m, pixel_values, images_crop, images_spatial_crop):
    """DeepseekOCRForCausalLM._pixel_values_to_embedding at e4ac34e, line for line, in float32 (the
    official casts of `patches` and `pixel_values` to bfloat16 are left out; PRINT_NUM_VIS_TOKENS is
    False). m is TinyOCR.model."""
    sam_model, vision_model, projector = m.sam_model, m.vision_model, m.projector
    images_in_this_batch = []
    with torch.no_grad():
        for jdx in range(images_spatial_crop.size(0)):
            patches = images_crop[jdx][0]
            image_ori = pixel_values[jdx]
            crop_shape = images_spatial_crop[jdx][0]

            if torch.sum(patches).item() != 0:
                local_features_1 = sam_model(patches)
                local_features_2 = vision_model(patches, local_features_1)
                local_features = torch.cat((local_features_2[:, 1:], local_features_1.flatten(2).permute(0, 2, 1)), dim=-1)
                local_features = projector(local_features)

                global_features_1 = sam_model(image_ori)
                global_features_2 = vision_model(image_ori, global_features_1)
                global_features = torch.cat((global_features_2[:, 1:], global_features_1.flatten(2).permute(0, 2, 1)), dim=-1)
                global_features = projector(global_features)

                _, hw, n_dim = global_features.shape
                h = w = int(hw ** 0.5)

                _2, hw2, n_dim2 = local_features.shape
                h2 = w2 = int(hw2 ** 0.5)

                width_crop_num, height_crop_num = crop_shape[0], crop_shape[1]

                global_features = global_features.view(h, w, n_dim)
                global_features = torch.cat(
                    [global_features, m.image_newline[None, None, :].expand(h, 1, n_dim)], dim=1
                )
                global_features = global_features.view(-1, n_dim)

                local_features = local_features.view(height_crop_num, width_crop_num, h2, w2, n_dim2).permute(0, 2, 1, 3, 4).reshape(height_crop_num * h2, width_crop_num * w2, n_dim2)
                local_features = torch.cat(
                    [local_features, m.image_newline[None, None, :].expand(height_crop_num * h2, 1, n_dim2)], dim=1
                )
                local_features = local_features.view(-1, n_dim2)

                global_local_features = torch.cat([local_features, global_features, m.view_seperator[None, :]], dim=0)
            else:
                global_features_1 = sam_model(image_ori)
                global_features_2 = vision_model(image_ori, global_features_1)
                global_features = torch.cat((global_features_2[:, 1:], global_features_1.flatten(2).permute(0, 2, 1)), dim=-1)
                global_features = projector(global_features)

                _, hw, n_dim = global_features.shape
                h = w = int(hw ** 0.5)

                global_features = global_features.view(h, w, n_dim)
                global_features = torch.cat(
                    [global_features, m.image_newline[None, None, :].expand(h, 1, n_dim)], dim=1
                )
                global_features = global_features.view(-1, n_dim)

                global_local_features = torch.cat([global_features, m.view_seperator[None, :]], dim=0)

            images_in_this_batch.append(global_local_features)

    return images_in_this_batch


def merge_multimodal_embeddings(input_ids, inputs_embeds, embeddings, image_token_id):
    """vLLM's merge: the rows at image-token positions get the image embeddings in order."""
    flat = torch.cat(embeddings, dim=0)
    mask = input_ids == image_token_id
    assert int(mask.sum()) == flat.shape[0], (int(mask.sum()), flat.shape)
    out = inputs_embeds.clone()
    out[mask] = flat.to(out.dtype)
    return out


def pixel_u8(pv):
    """The uint8 image a float32 view came from: pv = (float32(u8) / 255 - 0.5) / 0.5 exactly
    (ToTensor, then Normalize(0.5, 0.5), both in float32)."""
    u8 = torch.round((pv.double() * 0.5 + 0.5) * 255).to(torch.uint8)
    assert torch.equal(pv, (u8.float() / 255 - 0.5) / 0.5)
    return u8


def moe_layers(lm):
    return [i for i, layer in enumerate(lm.model.layers) if hasattr(layer.mlp, "gate")]


def router_gap(gate, x, idx):
    """Smallest gap between the k-th and (k+1)-th router logit over the tokens (the softmax scores
    keep their order); asserts that the official choice equals this recomputation."""
    x = x.reshape(-1, x.shape[-1]).float()
    cs = F.linear(x, gate.weight.float()).sort(dim=-1, descending=True)
    k = gate.top_k
    assert torch.equal(cs.indices[:, :k].sort(-1).values, idx.sort(-1).values)
    return float((cs.values[:, k - 1] - cs.values[:, k]).min())


def top2_margin(row):
    top = torch.topk(row.float(), 2).values
    assert torch.isfinite(top).all()
    return float(top[0] - top[1])


def decode(lm, inputs_embeds, steps, processor=None):
    """Greedy decoding with the KV cache, the logits processor applied as vLLM applies it:
    processor(tuple(generated ids), logits row) before each choice. Returns (ids, margins,
    steps where the processor banned something, steps where a ban changed the choice)."""
    out, margins, banned_steps, changed, raw = [], [], 0, 0, []
    with torch.no_grad():
        r = lm(inputs_embeds=inputs_embeds, use_cache=True)
        past, row = r.past_key_values, r.logits[0, -1].float()
        for s in range(steps):
            raw.append(row)
            if processor is not None:
                new = processor(tuple(out), row)
                if not torch.equal(new, row):
                    banned_steps += 1
                    changed += int(torch.argmax(new) != torch.argmax(row))
                row = new
            tok = int(torch.argmax(row))
            margins.append(top2_margin(row))
            out.append(tok)
            if s + 1 < steps:
                r = lm(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True)
                past, row = r.past_key_values, r.logits[0, -1].float()
    return out, margins, banned_steps, changed, torch.stack(raw)


def check_uncached(lm, inputs_embeds, ids, processor=None, cached_rows=None):
    """The same tokens from one uncached forward over the prompt and the generated tokens; returns
    the largest difference between these logits and the KV-cached ones."""
    T = inputs_embeds.shape[1]
    with torch.no_grad():
        emb = torch.cat([inputs_embeds, lm.get_input_embeddings()(torch.tensor([ids[:-1]]))], dim=1)
        full = lm(inputs_embeds=emb, use_cache=False).logits[0, T - 1:].float()
    for s, tok in enumerate(ids):
        row = full[s] if processor is None else processor(tuple(ids[:s]), full[s])
        assert int(torch.argmax(row)) == tok, s
        assert top2_margin(row) > MIN_GREEDY_MARGIN / 2
    return float((full - cached_rows).abs().max()) if cached_rows is not None else None


def channels_last(x):
    """[1, C, H, W] -> [H*W, C] (row-major over the grid)."""
    assert x.shape[0] == 1
    return x[0].flatten(1).t().contiguous()


def run_case(off, tiny, case, record=True):
    proc, crop = off.processor(case["mode"], case["prompt"])
    base, size, _ = MODES[case["mode"]]
    image = load_image(case["image"])
    ((input_ids, pixel_values, images_crop, images_seq_mask, images_spatial_crop, num_image_tokens, shapes),) = \
        proc.tokenize_with_images(images=[image], bos=True, eos=True, cropping=crop)
    input_ids = input_ids[0]
    T = input_ids.shape[0]
    assert input_ids[0] == BOS_ID and int(input_ids[-1]) != EOS_ID
    assert torch.equal(images_seq_mask, input_ids == IMAGE_ID)
    assert int(images_seq_mask.sum()) == num_image_tokens[0]
    crop_wh = images_spatial_crop[0].tolist()
    n_tiles = crop_wh[0] * crop_wh[1] if crop_wh != [1, 1] else 0
    assert pixel_values.shape == (1, 3, base, base)
    if n_tiles:
        assert images_crop.shape == (1, n_tiles, 3, size, size)
    else:
        assert images_crop.shape == (1, 1, 3, size, size) and not images_crop.any()

    m = tiny.model
    lm = tiny.lm
    rec = Recorder()
    if record:
        rec.output(m.sam_model, "sam")
        rec.output(m.vision_model, "clip")
        rec.output(m.projector, "projector")
        if case.get("intermediates"):
            s = m.sam_model
            rec.output(s.patch_embed, "sam.patch_embed")
            rec.pre(s.blocks[0], "sam.block0_in")
            for i, blk in enumerate(s.blocks):
                rec.output(blk, f"sam.block.{i}")
            rec.output(s.neck, "sam.neck")
            rec.output(s.net_2, "sam.net_2")
            rec.output(s.net_3, "sam.net_3")
            v = m.vision_model
            rec.output(v.embeddings, "clip.embeddings")
            rec.output(v.pre_layrnorm, "clip.pre_layrnorm")
            for i, layer in enumerate(v.transformer.layers):
                rec.output(layer, f"clip.layer.{i}")
        for i, layer in enumerate(lm.model.layers):
            rec.output(layer, f"language.layer.{i}", fn=lambda i_, o: o[0][0])
        rec.output(lm.model.norm, "language.norm", fn=lambda i_, o: o[0])
        for i in moe_layers(lm):
            rec.output(lm.model.layers[i].mlp.gate, f"moe.{i}.in", fn=lambda i_, o: i_[0])
            rec.output(lm.model.layers[i].mlp.gate, f"moe.{i}.idx", fn=lambda i_, o: o[0])

    # One request: the processor's fields under a leading batch dimension.
    feats = pixel_values_to_embedding(m, pixel_values[None], images_crop[None], images_spatial_crop[None])
    with torch.no_grad():
        emb0 = lm.get_input_embeddings()(input_ids)
        inputs_embeds = merge_multimodal_embeddings(input_ids, emb0, feats, IMAGE_ID)[None]
        out = lm(inputs_embeds=inputs_embeds, use_cache=False)
    rec.close()
    logits = out.logits[0].float()
    info = {"name": case["name"], "mode": case["mode"], "image": case["image"], "prompt": case["prompt"],
            "num_tokens": T, "num_image_tokens": num_image_tokens[0], "images_spatial_crop": crop_wh,
            "n_tiles": n_tiles, "logits": logits, "inputs_embeds": inputs_embeds[0]}
    if not record:
        return None, info
    r = rec.out
    t = {"input_ids": input_ids.to(torch.int64), "images_seq_mask": images_seq_mask.to(torch.uint8),
         "images_spatial_crop": images_spatial_crop[0].to(torch.int64)}

    # Pixels: integer row and column sums of the uint8 views.
    g8 = pixel_u8(pixel_values[0])
    t["pixels.global.row_sums"] = g8.to(torch.int64).sum(dim=2)
    t["pixels.global.col_sums"] = g8.to(torch.int64).sum(dim=1)
    if n_tiles:
        l8 = pixel_u8(images_crop[0])
        t["pixels.tiles.row_sums"] = l8.to(torch.int64).sum(dim=3)
        t["pixels.tiles.col_sums"] = l8.to(torch.int64).sum(dim=2)

    # Vision: the calls are (tiles, then global) with tiles, else (global).
    sams, clips, projs = r.pop("sam"), r.pop("clip"), r.pop("projector")
    assert len(sams) == len(clips) == len(projs) == (2 if n_tiles else 1)
    gs, gc, gp = sams[-1], clips[-1], projs[-1]
    g = base // 16 // 4
    assert gs.shape == (1, SAM["downsample_channels"][1], g, g) and gc.shape == (1, g * g + 1, CLIP["width"])
    if case.get("global"):
        t["global.sam"] = channels_last(gs)
        t["global.clip"] = gc[0]
    if n_tiles:
        ls, lc, lp = sams[0], clips[0], projs[0]
        g2 = size // 16 // 4
        assert ls.shape == (n_tiles, SAM["downsample_channels"][1], g2, g2)
        t["tiles.sam"] = ls.flatten(2).transpose(1, 2).contiguous()
        t["tiles.clip"] = lc
        assert torch.equal(lp, m.projector(torch.cat((lc[:, 1:], ls.flatten(2).permute(0, 2, 1)), dim=-1)))
    # The projector outputs are not stored: they are the image rows of inputs_embeds (checked here).
    assert torch.equal(gp, m.projector(torch.cat((gc[:, 1:], gs.flatten(2).permute(0, 2, 1)), dim=-1)))
    # The layout: the image rows of inputs_embeds, rebuilt from the recorded pieces.
    nl, vs = m.image_newline.detach(), m.view_seperator.detach()
    rows = []
    if n_tiles:
        wt, ht = crop_wh
        g2 = size // 64
        grid = lp.view(ht, wt, g2, g2, HIDDEN)
        for ty in range(ht):
            for y in range(g2):
                for tx in range(wt):
                    rows.append(grid[ty, tx, y])
                rows.append(nl[None])
    for y in range(g):
        rows.append(gp[0, y * g:(y + 1) * g])
        rows.append(nl[None])
    rows.append(vs[None])
    assert torch.equal(torch.cat(rows), inputs_embeds[0][images_seq_mask])
    assert torch.equal(inputs_embeds[0][~images_seq_mask], emb0[~images_seq_mask])
    t["inputs_embeds"] = inputs_embeds[0]

    if case.get("intermediates"):
        assert not n_tiles and case.get("global")
        rows_ = torch.tensor(SAM_ROWS, dtype=torch.int64)

        def grid_rows(x):  # [1, G, G, C] -> [len(SAM_ROWS) * G, C]
            return x[0][rows_].reshape(-1, x.shape[-1]).contiguous()

        pe = r.pop("sam.patch_embed")[0]
        pos = off.sam.get_abs_pos(m.sam_model.pos_embed, pe.shape[1]).detach()
        assert torch.equal(pe + pos, r.pop("sam.block0_in")[0])
        t["sam.rows"] = rows_
        t["sam.patch_embed"] = grid_rows(pe)
        t["sam.pos_embed"] = grid_rows(pos)
        for i in range(SAM["layers"]):
            t[f"sam.block.{i}"] = grid_rows(r.pop(f"sam.block.{i}")[0])
        t["sam.neck"] = grid_rows(r.pop("sam.neck")[0].permute(0, 2, 3, 1))
        t["sam.net_2"] = channels_last(r.pop("sam.net_2")[0])
        # net_3 is global.sam and the last CLIP layer is global.clip: not stored twice.
        assert torch.equal(channels_last(r.pop("sam.net_3")[0]), t["global.sam"])
        t["clip.embeddings"] = r.pop("clip.embeddings")[0][0]
        t["clip.pre_layrnorm"] = r.pop("clip.pre_layrnorm")[0][0]
        for i in range(CLIP["layers"]):
            x = r.pop(f"clip.layer.{i}")[0][0]
            if i + 1 < CLIP["layers"]:
                t[f"clip.layer.{i}"] = x
            else:
                assert torch.equal(x, t["global.clip"])

    rows_h = torch.arange(T - HIDDEN_ROWS, T, dtype=torch.int64)
    for i in range(len(lm.model.layers)):
        (h,) = r.pop(f"language.layer.{i}")
        t[f"language.layer.{i}"] = h[rows_h].contiguous()
    (h,) = r.pop("language.norm")
    t["language.norm"] = h[rows_h].contiguous()
    t["hidden_positions"] = rows_h
    gaps = []
    for i in moe_layers(lm):
        (x,), (idx,) = r.pop(f"moe.{i}.in"), r.pop(f"moe.{i}.idx")
        gaps.append(router_gap(lm.model.layers[i].mlp.gate, x, idx))
    assert not r, sorted(r)
    lp_ = torch.arange(T - LOGIT_ROWS, T, dtype=torch.int64)
    t["logits"] = logits[lp_].contiguous()
    t["logits_positions"] = lp_

    # Greedy decoding, KV cache on (transformers' generate), then the script's own loop.
    with torch.no_grad():
        gen = lm.generate(inputs_embeds=inputs_embeds, attention_mask=torch.ones(1, T, dtype=torch.long),
                          pad_token_id=EOS_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
                          max_new_tokens=GREEDY_STEPS, do_sample=False, use_cache=True)
    greedy = gen[0].tolist()
    assert len(greedy) == GREEDY_STEPS and greedy[0] == int(torch.argmax(logits[-1]))
    plain, m_plain, _, _, raw_plain = decode(lm, inputs_embeds, NGRAM_STEPS)
    assert plain[:GREEDY_STEPS] == greedy, (plain, greedy)
    cache_diff = check_uncached(lm, inputs_embeds, plain, cached_rows=raw_plain)
    nr = off.ngram.NoRepeatNGramLogitsProcessor(ngram_size=NGRAM_SIZE, window_size=NGRAM_WINDOW,
                                                 whitelist_token_ids={TD_ID})
    ngram, m_ngram, banned_steps, changed, _ = decode(lm, inputs_embeds, NGRAM_STEPS, processor=nr)
    check_uncached(lm, inputs_embeds, ngram, processor=nr)
    # Diagnostics: the same rule without the whitelist.
    nr0 = off.ngram.NoRepeatNGramLogitsProcessor(ngram_size=NGRAM_SIZE, window_size=NGRAM_WINDOW)
    ngram0, m_ngram0, _, _, _ = decode(lm, inputs_embeds, NGRAM_STEPS, processor=nr0)
    assert EOS_ID not in plain and EOS_ID not in ngram, f"{case['name']}: EOS; change the seed"
    whitelist_matters = ngram0 != ngram
    t["greedy_ids"] = torch.tensor(greedy, dtype=torch.int64)
    t["ngram_ids"] = torch.tensor(ngram, dtype=torch.int64)
    t["ngram_ids_plain"] = torch.tensor(plain, dtype=torch.int64)
    if whitelist_matters:
        m_ngram += m_ngram0[:next(s for s in range(NGRAM_STEPS) if ngram0[s] != ngram[s]) + 1]
    info.update({"min_greedy_margin": min(m_plain + m_ngram), "min_router_gap": min(gaps),
                 "whitelist_matters": whitelist_matters, "cache_diff": cache_diff,
                 "logits_absmax": float(raw_plain.abs().max()), "td_count": plain.count(TD_ID) + ngram.count(TD_ID),
                 "ngram_banned_steps": banned_steps, "ngram_changed_steps": changed,
                 "ngram_differs": ngram != plain, "td_generated": TD_ID in plain or TD_ID in ngram})
    return {k: v.contiguous() for k, v in t.items()}, info


# ---------------------------------------------------------------------------------------------
# tiling.json


TILING_SIZES = [
    (1, 1), (2, 3), (16, 16), (100, 50), (500, 380), (639, 640), (640, 640), (640, 641), (641, 640), (641, 641),
    (700, 700), (800, 640), (1000, 500), (1000, 1000), (1024, 1024), (1280, 640), (640, 1280), (1279, 640),
    (1281, 640), (1500, 720), (760, 1400), (1600, 1280), (1280, 1600), (1300, 650), (2000, 1000), (1000, 2000),
    (1920, 1080), (1080, 1920), (2000, 2000), (1500, 1000), (2480, 3508), (3508, 2480), (1700, 2200),
    (2550, 3300), (1240, 1754), (3000, 1000), (1000, 3000), (4000, 1000), (1000, 4000), (960, 640),
    (1400, 1000), (2200, 1100), (2500, 500), (500, 2500), (5000, 200), (200, 5000), (2000, 1), (1, 2000),
    (6000, 1), (8000, 6000), (6000, 8000), (10000, 10000),
]


def tiling_json(off):
    cases = []
    for w, h in TILING_SIZES:
        row = {"size": [w, h], "crop": w > 640 or h > 640,
               "count_tiles_max6": list(off.ip.count_tiles(w, h, min_num=2, max_num=6, image_size=640)),
               "count_tiles_max9": list(off.ip.count_tiles(w, h, min_num=2, max_num=9, image_size=640)),
               "num_image_tokens": {}, "gundam_tiles": {}}
        img = Image.new("RGB", (w, h), (90, 90, 90))
        for mode in MODES:
            variants = [("gundam_max6", 6), ("gundam_max9", 9)] if mode == "gundam" else [(mode, None)]
            for name, max_num in variants:
                proc, crop = off.processor(mode, "<image>")
                saved = off.ip.dynamic_preprocess.__defaults__
                if max_num is not None:
                    # As if config.py set MAX_CROPS = max_num before the import.
                    off.ip.dynamic_preprocess.__defaults__ = (2, max_num) + saved[2:]
                try:
                    ((ids, pv, crops, mask, spatial, n_tok, _),) = proc.tokenize_with_images(
                        images=[img], bos=True, eos=True, cropping=crop)
                except ValueError as e:
                    # ImageOps.pad gives the short side round(short / long * side), which is 0 for
                    # extreme aspect ratios; Pillow's resize then refuses the empty size.
                    row["num_image_tokens"][name] = None
                    row.setdefault("errors", {})[name] = f"ValueError: {e}"
                    continue
                finally:
                    off.ip.dynamic_preprocess.__defaults__ = saved
                assert int(mask.sum()) == n_tok[0]
                n_crops = int(crops.shape[1]) if crops.any() else 0
                row["num_image_tokens"][name] = n_tok[0]
                if mode == "gundam":
                    wt, ht = spatial[0].tolist()
                    row["gundam_tiles"][name] = [wt, ht]
                    assert n_crops == (wt * ht if [wt, ht] != [1, 1] else 0)
                    if row["crop"]:
                        assert [wt, ht] == row["count_tiles_max" + name[-1]]
                    else:
                        assert [wt, ht] == [1, 1]
                else:
                    assert spatial[0].tolist() == [1, 1] and n_crops == 0
        cases.append(row)
    about = ("count_tiles of the official process/image_process.py (the closest aspect ratio among the grids (i, j) "
             "with min_num <= i*j <= max_num, in order of i*j; on an equal difference the later grid wins when "
             "width*height > 0.5 * 640^2 * i*j) with min_num 2, image_size 640 and max_num 6 (config.py) or 9 (the "
             "Hugging Face release), as [width_tiles, height_tiles]. crop: whether a side is larger than 640 (only "
             "then does the processor call it; otherwise Gundam uses [1, 1], no local tiles). num_image_tokens: the "
             "<image> ids DeepseekOCRProcessor.tokenize_with_images inserts per mode for a grey RGB image of that "
             "size (null where it raised, see errors: ImageOps.pad rounds the short side to 0); gundam_max6 / "
             "gundam_max9: Gundam with MAX_CROPS 6 / 9. gundam_tiles: its images_spatial_crop. Tiny, Small, Base "
             "and Large always give [1, 1] and no local tiles.")
    head = {"about": about, "code": OCR_CODE, "min_num": 2, "image_size": 640,
            "modes": {k: {"base_size": b_, "image_size": s_, "crop_mode": c_} for k, (b_, s_, c_) in MODES.items()},
            "cases": None}
    text = json.dumps(head, ensure_ascii=False, indent=2, sort_keys=True)
    rows = ",\n    ".join(json.dumps(r_, ensure_ascii=False, sort_keys=True) for r_ in cases)
    return text.replace('"cases": null', '"cases": [\n    ' + rows + "\n  ]") + "\n"


# ---------------------------------------------------------------------------------------------
# README


def tensor_docs():
    n_lm = language_config()["num_hidden_layers"]
    return [
        ("input_ids", "I64", "[T]", "DeepseekOCRProcessor.tokenize_with_images ids: BOS, the ids of the text before "
         "`<image>` (none here), the image-token run (640), the ids of the text after it; the final EOS removed "
         "(inference mode)"),
        ("images_seq_mask", "U8", "[T]", "1 at the image-token positions (exactly where input_ids is 640)"),
        ("images_spatial_crop", "I64", "[2]", "[width_tiles, height_tiles]; [1, 1] without local tiles"),
        ("pixels.global.row_sums", "I64", "[3, S]", "the global view as the uint8 RGB image before ToTensor "
         "(S = base_size): per channel, the sum over x of each row y"),
        ("pixels.global.col_sums", "I64", "[3, S]", "the same image: per channel, the sum over y of each column x"),
        ("pixels.tiles.row_sums", "I64", "[n_tiles, 3, 640]", "each local tile (row-major over the tile grid) as "
         "uint8 before ToTensor: per channel, row sums (gundam_wide, gundam_tall)"),
        ("pixels.tiles.col_sums", "I64", "[n_tiles, 3, 640]", "the same tiles: column sums"),
        ("global.sam", "F32", "[g*g, 64]", "ImageEncoderViT output for the global view (after net_3), channels "
         "last, the g x g grid row-major (g = base_size / 64); tiny, small, base and large only"),
        ("global.clip", "F32", "[g*g+1, 64]", "VitModel output for the global view (class token first, then the "
         "g x g tokens row-major); tiny, small, base and large only"),
        ("tiles.sam", "F32", "[n_tiles, 100, 64]", "ImageEncoderViT output per local tile (10 x 10 grid, channels "
         "last), tiles row-major over the tile grid; gundam_wide and gundam_tall only"),
        ("tiles.clip", "F32", "[n_tiles, 101, 64]", "VitModel output per local tile (class token first)"),
        ("inputs_embeds", "F32", "[T, 64]", "embed_tokens(input_ids) with the image rows replaced by "
         "_pixel_values_to_embedding's output: with tiles, the (10*height_tiles) x (10*width_tiles) local grid "
         "row by row (each grid row crossing the tiles of a tile row), image_newline after each row; then the "
         "g x g global grid, image_newline after each row; then view_seperator. Without tiles, the global part "
         "and view_seperator only. The image rows are the projector outputs, "
         "projector(cat(clip[1:], sam)) = Linear 128 -> 64, of each view"),
        ("language.layer.i", "F32", f"[{HIDDEN_ROWS}, 64]", f"output of decoder layer i (i = 0..{n_lm - 1}; residual "
         "stream, before the final norm) at hidden_positions; layer 0 has the dense MLP, layers 1 and 2 the MoE"),
        ("language.norm", "F32", f"[{HIDDEN_ROWS}, 64]", "final RMSNorm output at hidden_positions"),
        ("hidden_positions", "I64", f"[{HIDDEN_ROWS}]", f"the last {HIDDEN_ROWS} positions (T-{HIDDEN_ROWS} .. T-1)"),
        ("logits", "F32", f"[{LOGIT_ROWS}, {LM_VOCAB}]", "lm_head output at logits_positions"),
        ("logits_positions", "I64", f"[{LOGIT_ROWS}]", f"the last {LOGIT_ROWS} positions"),
        ("greedy_ids", "I64", f"[{GREEDY_STEPS}]", f"{GREEDY_STEPS} new tokens from transformers' generate "
         "(do_sample=False, use_cache=True) on inputs_embeds; equal to an uncached re-run"),
        ("ngram_ids", "I64", f"[{NGRAM_STEPS}]", f"{NGRAM_STEPS} greedy tokens (KV cache) with "
         f"NoRepeatNGramLogitsProcessor(ngram_size={NGRAM_SIZE}, window_size={NGRAM_WINDOW}, "
         f"whitelist_token_ids={{{TD_ID}}}) called as vLLM calls it: processor(tuple(ids generated so far), "
         "logits row) before each argmax; the prompt is not passed"),
        ("ngram_ids_plain", "I64", f"[{NGRAM_STEPS}]", f"{NGRAM_STEPS} plain greedy tokens (KV cache); its first "
         f"{GREEDY_STEPS} are greedy_ids"),
    ]


def tiny_docs():
    r = len(SAM_ROWS)
    rows = ", ".join(map(str, SAM_ROWS))
    return [
        ("sam.rows", "I64", f"[{r}]", f"the rows of the 32 x 32 SAM grid that the sam.* tensors below hold: {rows} "
         "(all 32 columns of each)"),
        ("sam.patch_embed", "F32", f"[{r}*32, 32]", "patch_embed output (Conv2d 16x16 stride 16, channels last) "
         "before the position table, at the rows in sam.rows"),
        ("sam.pos_embed", "F32", f"[{r}*32, 32]", "get_abs_pos(pos_embed, 32): the 64 x 64 table resized to 32 x 32 "
         "(F.interpolate bicubic, antialias=True, align_corners=False, in float32), the table actually added; "
         "rows in sam.rows"),
        ("sam.block.i", "F32", f"[{r}*32, 32]", "output of SAM block i (i = 0..3; blocks 1 and 3 global attention "
         "with 63-row rel-pos tables resized from 127 rows (F.interpolate linear), blocks 0 and 2 14 x 14 windows "
         "over the grid zero-padded to 42 x 42 after norm1); rows in sam.rows"),
        ("sam.neck", "F32", f"[{r}*32, 256]", "neck output (Conv 1x1, LayerNorm2d, Conv 3x3 pad 1, LayerNorm2d, "
         "eps 1e-6), channels last; rows in sam.rows"),
        ("sam.net_2", "F32", "[16*16, 32]", "net_2 output (Conv 3x3 stride 2 pad 1, no bias), channels last, all "
         "rows (net_3's output is global.sam)"),
        ("clip.embeddings", "F32", "[65, 64]", "CLIPVisionEmbeddings output: [class_embedding; SAM output tokens] "
         "plus get_abs_pos(position table, 65): row 0 unchanged, the 16 x 16 rest resized to 8 x 8 (bicubic, "
         "antialias)"),
        ("clip.pre_layrnorm", "F32", "[65, 64]", "pre_layrnorm output"),
        ("clip.layer.0", "F32", "[65, 64]", "output of CLIP layer 0 (layer 1's output is global.clip)"),
    ]


def dtype_name(t):
    return {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}[t.dtype]


def file_rows():
    rows = []
    for root, _, files in sorted(os.walk(OUT_DIR)):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            rows.append((os.path.relpath(p, OUT_DIR), os.path.getsize(p)))
    return rows


def readme(infos, tensors, state, tolerances, readme_size_guess):
    lc = language_config()
    L = []
    a = L.append
    a("# DeepSeek-OCR reference fixtures")
    a("")
    a("Written by `tools/reference/deepseek_ocr.py`, which builds a tiny DeepSeek-OCR model with random weights in")
    a("the official checkpoint format and records what the official code computes with it, in float32 on CPU:")
    a(f"{OCR_CODE['repository']} at {OCR_CODE['commit'][:12]} (DeepSeek-OCR-master/DeepSeek-OCR-vllm: deepencoder/,")
    a("process/image_process.py, process/ngram_norepeat.py; the vLLM glue of deepseek_ocr.py reproduced op for op)")
    a(f"and the DeepSeek-VL2 language model ({VL2_CODE['repository']} at {VL2_CODE['commit'][:12]}). Do not edit")
    a("these files by hand; re-run the script (its docstring has the environment).")
    a(textwrap.fill("Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".", 110))
    a("")
    a("## Files")
    a("")
    a("| file | bytes | what |")
    a("|---|---|---|")
    what = {
        "README.md": "this file",
        "page_small.png": "500x380 test page (fits in 640: no local tiles in Gundam mode)",
        "page_wide.png": "1500x720 test page (Gundam: 2x1 tiles)",
        "page_tall.png": "760x1400 test page (Gundam: 1x2 tiles)",
        "tiling.json": f"count_tiles for {len(TILING_SIZES)} image sizes with MAX_CROPS 6 and 9, and the image-token "
                       "count of every mode (see its `about`)",
        "tiny-ocr/config.json": "the model configuration, laid out as the released config.json",
        "tiny-ocr/model.safetensors": f"the weights, float32, {len(state)} tensors with the released names",
        "tiny-ocr/processor_config.json": "the released processor_config.json (the processor does not read it)",
        "tiny-ocr/tokenizer.json": "the tokenizer (see below)",
        "tiny-ocr/tokenizer_config.json": "the tokenizer configuration",
        "tiny-ocr/reference.safetensors": "what the official code computed; names `<case>.<tensor>`",
    }
    total = 0
    for rel, size in [("README.md", readme_size_guess)] + [r_ for r_ in file_rows() if r_[0] != "README.md"]:
        total += size
        a(f"| `{rel}` | {size} | {what[rel]} |")
    a("")
    a(f"Total {total} bytes.")
    a("")
    a("## How the tiny model differs from the released one")
    a("")
    a("| part | released (deepseek-ai/DeepSeek-OCR) | tiny-ocr |")
    a("|---|---|---|")
    a("| SAM ViT-B | width 768, 12 blocks, 12 heads, global blocks 2, 5, 8, 11 | width 32, 4 blocks, 2 heads, "
      "global blocks 1, 3 |")
    a("| SAM, fixed in the official code | patch 16, image 1024 (pos_embed 1x64x64x768), window 14, rel-pos, MLP 4x, "
      "LayerNorm eps 1e-6, exact GELU, neck 256 | the same (pos_embed 1x64x64x32, neck 256) |")
    a("| SAM downsample | net_2 Conv2d(256, 512, 3, 2, 1), net_3 Conv2d(512, 1024, 3, 2, 1), no bias | net_2 "
      "Conv2d(256, 32, 3, 2, 1), net_3 Conv2d(32, 64, 3, 2, 1), no bias (set by the script: ImageEncoderViT "
      "hard-codes the released channels) |")
    a("| CLIP-L/14-224 | width 1024, 24 layers, 16 heads, FFN 4096, 257 positions | width 64, 2 layers, 2 heads, "
      "FFN 256, 257 positions; quick GELU, LayerNorm eps 1e-5 (pre_layrnorm too) as released |")
    a("| projector | linear 2048 -> 1280 | linear 128 -> 64 |")
    a(f"| language | hidden 1280, 12 layers, 10 heads x 128, 64 experts top-6 + 2 shared, vocab 129280 | hidden "
      f"{lc['hidden_size']}, {lc['num_hidden_layers']} layers, {lc['num_attention_heads']} heads x "
      f"{lc['hidden_size'] // lc['num_attention_heads']}, layer 0 dense (MLP {lc['intermediate_size']}), "
      f"{lc['n_routed_experts']} experts x {lc['moe_intermediate_size']} top-{lc['num_experts_per_tok']} + "
      f"{lc['n_shared_experts']} shared, vocab {lc['vocab_size']} |")
    a("| weights | trained, bfloat16 | random (seeded), float32; every tensor set, including those the official "
      f"init zeroes; the lm_head row of `<td>` drawn {TD_BOOST}x larger so that the model emits `<td>` |")
    a("")
    a("Unchanged: the image path (SAM on the 3 x S x S view, its output as CLIP's patch embeddings, position tables")
    a("resized with bicubic antialias interpolation for grids other than 16 x 16 (SAM: other than 64 x 64), the")
    a("concatenation [CLIP tokens without the class token, SAM tokens], the projector, the image_newline /")
    a("view_seperator layout), the language model's algorithms (LlamaAttention MHA with rotate-half RoPE theta")
    a("10000, RMSNorm eps 1e-6, SiLU MLPs, softmax router, greedy top-k, no renormalisation), the processor")
    a("(tokenize_with_images: patch 16 and downsample 4 give base_size/64 tokens per side).")
    a("")
    a("config.json follows the released layout: architectures [\"DeepseekOCRForCausalLM\"], auto_map, model_type")
    a("\"deepseek_vl_v2\", candidate_resolutions [[1024, 1024]], global_view_pos \"head\", tile_tag \"2D\",")
    a("projector_config {input_dim, model_type, n_embed, projector_type \"linear\"}, vision_config {image_size 1024,")
    a("mlp_ratio 3.7362, model_name \"deeplip_b_l\", model_type \"vision\", width {\"clip-l-14-224\": {heads,")
    a("image_size, layers, patch_size, width}, \"sam_vit_b\": {downsample_channels, global_attn_indexes, heads,")
    a("layers, width}}}, language_config (architectures [\"DeepseekV2ForCausalLM\"] as released; the values of")
    a("tests/data/deepseek_vl2/tiny-mha with max_position_embeddings 8192), and the language fields repeated at the")
    a(textwrap.fill("top level (" + ", ".join(ROOT_MIRROR) + "). The official code reads none of the sizes from "
                    "it (mlp_ratio 3.7362 and model_name are not read at all); they describe the tiny model for "
                    "dsvl.", 110))
    a("Sources for the released layout (the Hugging Face repository itself was not reachable): the mllm project's")
    a("DeepSeek-OCR config parser (model_type \"deepseek_vl_v2\", max_position_embeddings 8192, transformers")
    a("4.46.3, the top-level keys), the config.json quoted in MLX Swift's VLM registry tests (the same keys plus")
    a("quantization), and a float32 re-save of the checkpoint (github.com/kurokencom/DeepSeekOcrCPUWin,")
    a("model/config.json and model/model.safetensors.index.json: the tensor names). The released file has no")
    a("model.vision_model.embeddings.position_ids (transformers reports it as newly initialised on loading).")
    a("processor_config.json is the released one as the MLX Swift tests quote it (add_special_token false,")
    a("candidate_resolutions [[1024, 1024]], downsample_ratio 4, ignore_id -100, mean/std 0.5, mask_prompt false,")
    a("normalize true, pad_token, patch_size 16, processor_class \"DeepseekVLV2Processor\", sft_format")
    a("\"deepseek\"; image_token, blank in that quote, is \"<image>\").")
    a("")
    a("The tokenizer is tests/data/deepseek_vl2/tiny-mha's (a byte-level BPE of 640 ids with deepseek-vl2's added")
    a("tokens: BOS 0, EOS 1, pad 2, `<image>` 640, `<|ref|>` 641, `<|/ref|>` 642, `<|det|>` 643, `<|/det|>` 644,")
    a(f"`<|grounding|>` 645, `<|User|>` 646, `<|Assistant|>` 647) plus `<td>` {TD_ID} and `</td>` {TD_CLOSE_ID}")
    a("(special, normalized false, as in the release, where they are 128821 and 128822, between `<|grounding|>`")
    a("128820 and `<tr>` 128823, `</tr>` 128824, `<|User|>` 128825, `<|Assistant|>` 128826). The LM has 672")
    a("embedding rows.")
    a("")
    a("## Cases")
    a("")
    a("Modes as DeepSeek-OCR-vllm/config.py describes them (base_size, image_size, crop_mode): Tiny 512/512/no,")
    a("Small 640/640/no, Base 1024/1024/no, Large 1280/1280/no, Gundam 1024/640/yes. The processor: without")
    a("cropping and image_size <= 640, image.resize((S, S)) first (bicubic, aspect not kept); then the global view")
    a("ImageOps.pad(image, (base, base), color=(127, 127, 127)) (bicubic, aspect kept, centred; 127 =")
    a("int(0.5 * 255)); with cropping and a side > 640, dynamic_preprocess resizes the image to")
    a("(640 * width_tiles, 640 * height_tiles) (bicubic, aspect not kept) and cuts it into 640-px tiles row-major.")
    a(f"Gundam uses MAX_CROPS {MAX_CROPS}, the Hugging Face release's value (its modeling_deepseekocr.py calls")
    a("dynamic_preprocess(image) with the defaults min_num=2, max_num=9; the vLLM config.py says 6, \"max: 9\").")
    a("ToTensor and Normalize(0.5, 0.5) give (u8 / 255 - 0.5) / 0.5 in float32; the script checks that the pixels")
    a("the model got are exactly that for the uint8 images whose sums are recorded.")
    a("")
    a("| case | mode | image | prompt | T | image tokens | tiles | no-repeat rule |")
    a("|---|---|---|---|---|---|---|---|")
    for i in infos:
        tiles = "x".join(map(str, i["images_spatial_crop"])) if i["n_tiles"] else "none"
        rule = (f"{'changes' if i['ngram_differs'] else 'keeps'} the tokens ({i['ngram_banned_steps']} steps with a "
                f"ban, {i['ngram_changed_steps']} choices changed)"
                + ("; the whitelist decides a token" if i["whitelist_matters"] else ""))
        a(f"| `{i['name']}` | {i['mode']} | `{i['image']}` | `{json.dumps(i['prompt'])[1:-1]}` | {i['num_tokens']} | "
          f"{i['num_image_tokens']} | {tiles} | {rule} |")
    a("")
    first = tensors[f"{infos[0]['name']}.input_ids"].tolist()
    n_img = infos[0]["num_image_tokens"]
    free = next(i for i in infos if i["name"] == "free")
    a(textwrap.fill(f"Prompt ids: {first[:1]} + [640] * n + {first[1 + n_img:]} for the document prompt, and "
                    f"{tensors['free.input_ids'].tolist()[1 + free['num_image_tokens']:]} after the image run for "
                    "`free`; BOS comes from the processor (bos=True), the empty text before `<image>` encodes to "
                    "nothing.", 110))
    a("")
    a("## Tensors in reference.safetensors")
    a("")
    a("Names are `<case>.<tensor>`; the full list with every shape is at the end.")
    a("")
    a("| tensor | dtype | shape | meaning |")
    a("|---|---|---|---|")
    for k, dt, sh, v in tensor_docs():
        a(f"| `{k}` | {dt} | {sh} | {v} |")
    a("")
    a("The `tiny` case (Tiny mode, 512 px: SAM grid 32 x 32, output grid 8 x 8) also has the intermediates of its")
    a("global view:")
    a("")
    a("| tensor | dtype | shape | meaning |")
    a("|---|---|---|---|")
    for k, dt, sh, v in tiny_docs():
        a(f"| `tiny.{k}` | {dt} | {sh} | {v} |")
    a("")
    a("What is left out to keep the folder under 8 MB (the weights alone take 5.3 MB, most of it the 256-channel")
    a("neck), each derivable from what is kept and checked by the script:")
    a("")
    a("- the projector outputs: they are the image rows of inputs_embeds, in the layout above;")
    a("- global.sam and global.clip of gundam_wide, gundam_tall, gundam_small and free: their global views run the")
    a("  1024-px path of `base` (no position-table resizing); their pixels and inputs_embeds are kept;")
    a(f"- the tiny case's SAM intermediates outside the grid rows {', '.join(map(str, SAM_ROWS))}; net_3's output")
    a("  (= tiny.global.sam) and CLIP layer 1's (= tiny.global.clip) are not stored twice.")
    a("")
    a(textwrap.fill("Checks made by the script: the greedy top-1 logit beats the top-2 by more than "
      f"{MIN_GREEDY_MARGIN} at every recorded step (plain, with the no-repeat rule, and without its whitelist up to "
      f"the first token where that differs; smallest margin {min(i['min_greedy_margin'] for i in infos):.3g}); no "
      f"routed-expert choice is within {MIN_ROUTER_GAP} of a tie in router logits (smallest gap "
      f"{min(i['min_router_gap'] for i in infos):.3g}); no EOS is generated; the no-repeat rule changes the greedy "
      f"tokens in {sum(i['ngram_differs'] for i in infos)} of {len(infos)} cases and its whitelist (`<td>` {TD_ID}) "
      f"decides a token in {sum(i['whitelist_matters'] for i in infos)}, so a test that ignores either fails.", 110))
    a("")
    a("## Tolerances")
    a("")
    a("Two float32 evaluations of the same values in different orders of summation give these largest")
    a("absolute differences; the C++ tests should allow some multiple (their kernels sum in other orders again).")
    a("")
    a("| values | max abs difference | max abs value |")
    a("|---|---|---|")
    for k, (d, mx) in tolerances.items():
        a(f"| {k} | {d:.3g} | {mx:.3g} |")
    a("")
    a("## All tensors")
    a("")
    a("| tensor | dtype | shape |")
    a("|---|---|---|")
    for name, t in tensors.items():
        a(f"| `{name}` | {dtype_name(t)} | {list(t.shape)} |")
    a("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "pillow": PIL.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__}


def import_vl2_language_model():
    # Before the flash_attn stand-in exists: deepseek_vl2 asks transformers whether flash-attn is installed.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    from deepseek_vl2.models.configuration_deepseek import DeepseekV2Config
    from deepseek_vl2.models.modeling_deepseek import DeepseekV2ForCausalLM
    return DeepseekV2Config, DeepseekV2ForCausalLM


def build_model(off, vl2):
    DeepseekV2Config, DeepseekV2ForCausalLM = vl2
    torch.manual_seed(LM_SEED)
    lm = DeepseekV2ForCausalLM(DeepseekV2Config(**language_config())).eval()
    c = lm.config
    assert c.rms_norm_eps == 1e-6 and c.rope_theta == 10000.0 and c.rope_scaling is None
    assert not c.tie_word_embeddings and c._attn_implementation == "eager" and not c.use_mla
    tiny = TinyOCR(off, lm).eval()
    init_weights([(k, v) for k, v in tiny.model.state_dict(keep_vars=True).items() if not k.endswith("position_ids")],
                 VISION_SEED)
    init_weights(list(lm.state_dict(keep_vars=True).items()), LM_SEED)
    return tiny


def tolerance_study(off, tiny, infos, tensors):
    """Largest |difference| between two float32 evaluations of the same values: the local tiles of
    gundam_wide one at a time instead of as one batch, and the logits of the generated tokens with the
    KV cache against one uncached forward (every case)."""
    out = {}

    def note(key, d, mx):
        old = out.get(key, (0.0, 0.0))
        out[key] = (max(old[0], d), max(old[1], mx))

    proc, crop = off.processor("gundam", DOC_PROMPT)
    ((_, _, images_crop, _, _, _, _),) = proc.tokenize_with_images(images=[load_image("page_wide.png")], bos=True,
                                                                    eos=True, cropping=crop)
    m = tiny.model
    with torch.no_grad():
        bs, bc = tensors["gundam_wide.tiles.sam"], tensors["gundam_wide.tiles.clip"]
        bp = m.projector(torch.cat((bc[:, 1:], bs), dim=-1))
        for j in range(images_crop.shape[1]):
            x = images_crop[0, j:j + 1]
            s_ = m.sam_model(x)
            c = m.vision_model(x, s_)
            p = m.projector(torch.cat((c[:, 1:], s_.flatten(2).permute(0, 2, 1)), dim=-1))
            for key, a_, b_ in (("SAM output (tiles.sam)", bs[j], s_[0].flatten(1).t()),
                                ("CLIP output (tiles.clip)", bc[j], c[0]), ("projector output", bp[j], p[0])):
                note(key + ", one tile at a time vs the batch of 2", float((a_ - b_).abs().max()),
                     float(a_.abs().max()))
    for i in infos:
        note(f"logits of the {NGRAM_STEPS} generated tokens, KV cache vs uncached", i["cache_diff"], i["logits_absmax"])
    torch.set_num_threads(2)
    try:
        for case, info in zip(CASES, infos):
            _, info2 = run_case(off, tiny, case, record=False)
            note("inputs_embeds, 2 threads vs 1", float((info["inputs_embeds"] - info2["inputs_embeds"]).abs().max()),
                 float(info["inputs_embeds"].abs().max()))
            note("logits at every prompt position, 2 threads vs 1",
                 float((info["logits"] - info2["logits"]).abs().max()), float(info["logits"].abs().max()))
    finally:
        torch.set_num_threads(1)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deepseek-ocr", default=os.environ.get("DEEPSEEK_OCR_REPO", "/tmp/DeepSeek-OCR"),
                    help="a clone of github.com/deepseek-ai/DeepSeek-OCR holding commit " + OCR_CODE["commit"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    os.makedirs(OUT_DIR, exist_ok=True)
    write_pages()
    write_model_folder()
    tokenizer = transformers.AutoTokenizer.from_pretrained(MODEL_DIR)
    assert tokenizer.convert_tokens_to_ids([TD, TD_CLOSE]) == [TD_ID, TD_CLOSE_ID]
    assert tokenizer.bos_token_id == BOS_ID and tokenizer.eos_token_id == EOS_ID and tokenizer.pad_token_id == PAD_ID
    vl2 = import_vl2_language_model()
    off = Official(args.deepseek_ocr, tokenizer)

    tiny = build_model(off, vl2)
    state = tiny.checkpoint_state()
    check_names(state)
    write_safetensors(os.path.join(MODEL_DIR, "model.safetensors"), state, {"format": "pt"})
    # The folder reloads into the same modules with nothing missing or left over.
    loaded = load_file(os.path.join(MODEL_DIR, "model.safetensors"))
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    vision = {k[len("model."):]: v for k, v in loaded.items()
              if k.split(".")[1] in ("sam_model", "vision_model", "projector", "image_newline", "view_seperator")}
    missing, unexpected = tiny.model.load_state_dict(vision, strict=False)
    assert missing == ["vision_model.embeddings.position_ids"] and not unexpected, (missing, unexpected)
    missing, unexpected = tiny.lm.load_state_dict({k: v for k, v in loaded.items() if k not in
                                                   {"model." + k2 for k2 in vision}}, strict=True)

    tensors, infos = {}, []
    for case in CASES:
        t, info = run_case(off, tiny, case)
        for k, v in t.items():
            tensors[f"{case['name']}.{k}"] = v
        infos.append(info)
        print(f"{case['name']}: T={info['num_tokens']} image tokens={info['num_image_tokens']} "
              f"crop={info['images_spatial_crop']} margin={info['min_greedy_margin']:.3g} "
              f"router_gap={info['min_router_gap']:.3g} ngram banned={info['ngram_banned_steps']} "
              f"changed={info['ngram_changed_steps']} differs={info['ngram_differs']} td={info['td_generated']}",
              flush=True)
    bad = [(i["name"], i["min_greedy_margin"], i["min_router_gap"]) for i in infos
           if i["min_greedy_margin"] <= MIN_GREEDY_MARGIN or i["min_router_gap"] <= MIN_ROUTER_GAP]
    assert not bad, f"near ties, change the seed: {bad}"
    assert sum(i["ngram_differs"] for i in infos) >= MIN_NGRAM_CASES, "the no-repeat rule changes too few cases"

    tolerances = tolerance_study(off, tiny, infos, tensors)

    about = {"reference": "official DeepSeek-OCR code (vLLM path) with the DeepSeek-VL2 language model",
             "code": [OCR_CODE, VL2_CODE], "versions": versions(), "image_token_id": IMAGE_ID, "max_crops": MAX_CROPS,
             "ngram": {"ngram_size": NGRAM_SIZE, "window_size": NGRAM_WINDOW, "whitelist_token_ids": [TD_ID]},
             "cases": [{k: i[k] for k in ("name", "mode", "image", "prompt", "num_tokens", "num_image_tokens",
                                          "images_spatial_crop")} for i in infos]}
    write_safetensors(os.path.join(MODEL_DIR, "reference.safetensors"), tensors,
                      {"dsvl_reference": json.dumps(about, ensure_ascii=False, sort_keys=True)})
    write_text(os.path.join(OUT_DIR, "tiling.json"), tiling_json(off))
    # The README lists its own size: iterate until it is stable.
    guess = 0
    for _ in range(4):
        text = readme(infos, tensors, state, tolerances, guess)
        size = len(text.encode("utf-8"))
        if size == guess:
            break
        guess = size
    write_text(os.path.join(OUT_DIR, "README.md"), text)
    total = 0
    for rel, size in file_rows():
        total += size
        print(f"  {rel}: {size} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
