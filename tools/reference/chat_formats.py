"""Chat-format fixtures for DeepSeek-VL and DeepSeek-VL2, from the official processors.

Writes tests/data/chat/{deepseek-vl-v1,deepseek-vl2,deepseek-vl2-small}.json, read by
tests/language/chat_format_test.cpp. Each case is a conversation run through the official
processor: `deepseek_vl.models.VLChatProcessor` (DeepSeek-VL) or
`deepseek_vl2.models.DeepseekVLV2Processor` (DeepSeek-VL2), with synthetic PIL images of assorted
sizes. The fixture records what the processor returned: the rendered `sft_format` string, the
`input_ids`, and per image the number of image tokens and, for DeepSeek-VL2, the tiling it chose
(`images_spatial_crop`: width and height in 384-pixel tiles).

The official code is not on PyPI. Get it from GitHub and install it beside pinned dependencies in
a virtual environment outside this repository (torch and transformers as DeepSeek-VL2's pyproject
pins them, torchvision to match; `attrdict` 2.0.1 imports on Python >= 3.10 because both packages
patch `collections` on import):

    git clone https://github.com/deepseek-ai/DeepSeek-VL /tmp/DeepSeek-VL
    git -C /tmp/DeepSeek-VL checkout 681bffb4519856ad27cc17531aacde31ddf6f1a7
    git clone https://github.com/deepseek-ai/DeepSeek-VL2 /tmp/DeepSeek-VL2
    git -C /tmp/DeepSeek-VL2 checkout ef9f91e2b6426536b83294c11742c27be66361b1
    python3.11 -m venv /tmp/dsvl-ref && . /tmp/dsvl-ref/bin/activate
    pip install torch==2.0.1 torchvision==0.15.2 transformers==4.38.2 tokenizers==0.15.2 \
        "numpy<2" pillow==10.2.0 timm==0.9.16 einops attrdict==2.0.1 sentencepiece accelerate==0.27.2
    pip install --no-deps /tmp/DeepSeek-VL /tmp/DeepSeek-VL2

Then, from the repository root:

    python tools/reference/chat_formats.py [--tokenizers DIR]

DIR holds the tokenizer folders deepseek-vl-v1/, deepseek-vl2/ and deepseek-vl2-small/ (default:
$DSVL_SHARED_DATA/tokenizers, else ../shared/data/tokenizers beside the repository, the same place
tests/shared_data.hpp looks). The processors get a transformers `LlamaTokenizerFast`:

- deepseek-vl2: the folder as it is (tokenizer.json with its tokenizer_config.json and
  special_tokens_map.json).
- deepseek-vl-v1 and deepseek-vl2-small: those folders hold only tokenizer.json, so the script
  copies it into a temporary folder beside a minimal tokenizer_config.json that states what the
  real one is known to say: LlamaTokenizerFast, add_bos_token true, add_eos_token false, BOS
  <｜begin▁of▁sentence｜>, EOS <｜end▁of▁sentence｜>, pad unset for v1 (its processor pads with
  EOS) and <｜▁pad▁｜> for VL2-Small. The written config is recorded in each fixture.
- DeepSeek-VL2-Small's processor_config.json is not available; the script uses DeepSeek-VL2's
  (the candidate resolutions of the released models begin identically and are taken as equal).

DeepSeek-VL's processor gets a `VLMImageProcessor(image_size=384)`; it only needs one to run, the
ids do not depend on it. Every case calls the processor with `conversations=`, except DeepSeek-VL
cases with a system prompt other than the class default: those render the prompt with the
processor's own `apply_sft_template_for_multi_turn_prompts(..., system_prompt=...)` and pass it as
`prompt=`, which is how the official code takes another system prompt.

Fixture schema (one JSON object per file):

    reference       "official processor"
    processor       the class that produced the ids; code: repository and commit; versions
    tokenizer       path under the shared data folder; tokenizer_config: what the script wrote, or null
    image_tag, image_token_id, bos_id, eos_id, pad_id
    system_prompt   (DeepSeek-VL) the processor's default system prompt
    cases[]:
      name
      messages[]    {role, content} exactly as given to the processor
      system_prompt (DeepSeek-VL) the system prompt the template used
      inference_mode (DeepSeek-VL2) as passed to the processor (true drops the final EOS)
      cropping      (DeepSeek-VL2) whether images were tiled (the processor tiles with <= 2 images)
      images[]      {width, height, num_image_tokens} and, for DeepSeek-VL2, width_tiles, height_tiles
      sft_format    the processor's rendered string
      prompt        the text the input_ids spell after BOS, with each image's run of image ids written
                    as one image tag (added tokens as written, other ids through the byte-level map)
      input_ids     the processor's input_ids, BOS first

For DeepSeek-VL, `prompt` equals `sft_format` (the script checks it). For DeepSeek-VL2 it does not
in general: the processor tokenizes each message separately and `sft_format` is only a display
string (it writes role names as given, ": " before an answer that the ids lack, and a system
message as if it were a turn).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import PIL
import tokenizers
import torch
import torchvision
import transformers
from PIL import Image
from transformers import LlamaTokenizerFast
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

from deepseek_vl.models import VLChatProcessor, VLMImageProcessor
from deepseek_vl2.models import DeepseekVLV2Processor
from deepseek_vl2.models.processing_deepseek_vl_v2 import select_best_resolution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(REPO, "tests", "data", "chat")

VL1_CODE = {"repository": "github.com/deepseek-ai/DeepSeek-VL", "commit": "681bffb4519856ad27cc17531aacde31ddf6f1a7"}
VL2_CODE = {"repository": "github.com/deepseek-ai/DeepSeek-VL2", "commit": "ef9f91e2b6426536b83294c11742c27be66361b1"}

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "pillow": PIL.__version__}


def default_tokenizer_root():
    env = os.environ.get("DSVL_SHARED_DATA")
    if env:
        return os.path.join(env, "tokenizers")
    return os.path.normpath(os.path.join(REPO, "..", "shared", "data", "tokenizers"))


def load_tokenizer(folder, config):
    """LlamaTokenizerFast from `folder`; with `config`, from a copy of its tokenizer.json beside it."""
    if config is None:
        return LlamaTokenizerFast.from_pretrained(folder), None
    tmp = tempfile.mkdtemp(prefix="dsvl_chat_tok_")
    try:
        shutil.copy(os.path.join(folder, "tokenizer.json"), tmp)
        with open(os.path.join(tmp, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False)
        return LlamaTokenizerFast.from_pretrained(tmp), config
    finally:
        shutil.rmtree(tmp)


# Minimal tokenizer_config.json contents for the folders that have only tokenizer.json
# (spec.md 9.1 and 9.3).
VL1_TOKENIZER_CONFIG = {"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True, "add_eos_token": False,
                        "legacy": True, "bos_token": BOS, "eos_token": EOS, "pad_token": None,
                        "clean_up_tokenization_spaces": False}
VL2_SMALL_TOKENIZER_CONFIG = {"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True, "add_eos_token": False,
                              "bos_token": BOS, "eos_token": EOS, "pad_token": PAD,
                              "clean_up_tokenization_spaces": False}


def image(w, h, seed):
    """A synthetic RGB image; only its size matters to the ids."""
    return Image.new("RGB", (w, h), ((37 * seed) % 256, (91 * seed) % 256, (53 * seed) % 256))


BYTE_OF_SYMBOL = {c: b for b, c in bytes_to_unicode().items()}


def text_of(tok, ids):
    """The text that `ids` stand for: added tokens as written, other tokens through the byte-level map.

    Not tok.decode: its ByteLevel decoder also maps the added tokens, and the DeepSeek-LLM
    tokenizer's one-character added tokens (ü, ø, ... at 100002-100014) are byte-level symbols,
    so decode turns "ü" into the lone byte 0xFC.
    """
    out, buf = [], bytearray()
    for i in ids:
        if i in tok.added_tokens_decoder:
            out.append(buf.decode("utf-8"))
            buf = bytearray()
            out.append(tok.added_tokens_decoder[i].content)
        else:
            buf += bytes(BYTE_OF_SYMBOL[c] for c in tok.convert_ids_to_tokens(i))
    out.append(buf.decode("utf-8"))
    return "".join(out)


def spell(tok, ids, image_id, counts, tag):
    """The text that `ids` spell, each image's run (of counts[k] ids) written as one tag."""
    out, piece, i, k = [], [], 0, 0
    while i < len(ids):
        if ids[i] == image_id:
            out.append(text_of(tok, piece))
            piece = []
            assert ids[i:i + counts[k]] == [image_id] * counts[k]
            out.append(tag)
            i += counts[k]
            k += 1
        else:
            piece.append(ids[i])
            i += 1
    out.append(text_of(tok, piece))
    assert k == len(counts)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Conversations. "{img}" stands for the family's image tag; U / A for its user / assistant role.

U, A = "U", "A"

COMMON_CASES = [
    ("single image", [(U, "{img}\nDescribe this image in detail."), (A, "")], [(640, 480)]),
    ("no image", [(U, "Hello! Who are you?"), (A, "")], []),
    ("two images", [(U, "This is image_1: {img}\nThis is image_2: {img}\nWhich one is brighter?"), (A, "")],
     [(300, 1200), (1500, 400)]),
    ("three images",
     [(U, "This is image_1: {img}\nThis is image_2: {img}\nThis is image_3: {img}\n Can you tell me what are in the images?"),
      (A, "")],
     [(1000, 1000), (200, 50), (384, 384)]),
    ("multi-turn with earlier answers",
     [(U, "{img}\nWhat animal is this?"), (A, "It is a giraffe."), (U, "How many legs does it have?"),
      (A, "It has four legs."), (U, "{img}\nAnd what is in this one?"), (A, "")],
     [(512, 512), (16, 16)]),
    ("image tag at the end", [(U, "What is in this picture? {img}"), (A, "")], [(768, 384)]),
    ("image tag in the middle", [(U, "Compare the left part of {img} with its right part."), (A, "")], [(4000, 300)]),
    ("adjacent image tags", [(U, "{img}{img}Are these the same picture?"), (A, "")], [(640, 640), (100, 900)]),
    ("content is only an image tag", [(U, "{img}"), (A, "")], [(384, 1152)]),
    ("whitespace stripped around contents",
     [(U, "  \n\t{img}\n Describe  this image.\u3000\u00a0\n "), (A, "  The image shows a cat.\n\n"),
      (U, " \r\nAnything else?\u2003\t"), (A, "")],
     [(333, 777)]),
    ("non-ASCII text",
     [(U, "{img}\n这张图片里有什么？请用中文回答。Was ist auf dem Bild? Führer, smørrebrød, café — 😀 ①②③ ½"), (A, "")],
     [(1024, 768)]),
    ("empty user message", [(U, ""), (A, "")], []),
    ("answer prefix to continue", [(U, "{img}\nDescribe this image."), (A, "The image shows")], [(1920, 1080)]),
]

VL1_CASES = COMMON_CASES + [
    ("no generation slot (ends with a user message)", [(U, "{img}\nWhat is this?")], [(500, 400)]),
]

VL2_CASES = COMMON_CASES + [
    ("system message", [("system", "  You are a helpful assistant that answers briefly. "), (U, "{img}\nWhat is this?"), (A, "")],
     [(800, 600)]),
    ("system message, multi-turn",
     [("system", "Answer in French."), (U, "Hi!"), (A, "Bonjour !"), (U, "{img}What colour is it?"), (A, "")],
     [(2000, 2000)]),
    ("grounding: referring expression", [(U, "{img}\n<|ref|>The giraffe at the back.<|/ref|>."), (A, "")],
     [(1200, 800)]),
    ("grounding: <|grounding|> at the start", [(U, "<|grounding|>{img}\nDescribe the image."), (A, "")], [(960, 1280)]),
    ("grounding: <|grounding|> after the image", [(U, "{img}\n<|grounding|>Describe the image."), (A, "")], [(100, 3000)]),
    ("grounding: boxes in an earlier answer",
     [(U, "{img}\n<|ref|>the dog<|/ref|>"), (A, "<|ref|>the dog<|/ref|><|det|>[[12, 34, 560, 780]]<|/det|>"),
      (U, "<|ref|>the cat<|/ref|>"), (A, "")],
     [(3456, 384)]),
    ("lowercase roles user / assistant", [("user", "{img}\nWhat is this?"), ("assistant", "")], [(1152, 1152)]),
]

# DeepSeek-VL: (name, messages, images, system prompt); None means the processor's default.
VL1_SYSTEM_CASES = [
    ("custom system prompt", [(U, "{img}\nWhat is this?"), (A, "")], [(800, 600)], "You are a helpful assistant."),
    ("empty system prompt", [(U, "{img}\nWhat is this?"), (A, "")], [(800, 600)], ""),
]


def messages_for(msgs, tag, user, assistant):
    out = []
    for role, content in msgs:
        role = {U: user, A: assistant}.get(role, role)
        out.append({"role": role, "content": content.replace("{img}", tag)})
    return out


def to_json(v, indent=0):
    """JSON text: objects and lists of objects one item per line, lists of numbers on one line."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {to_json(x, indent + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
        return "[\n" + ",\n".join(inner + to_json(x, indent + 1) for x in v) + "\n" + pad + "]"
    if isinstance(v, list):
        return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def dump(path, doc):
    text = to_json(doc) + "\n"
    assert json.loads(text) == doc
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------------


def run_vl1(root):
    tok, written = load_tokenizer(os.path.join(root, "deepseek-vl-v1"), VL1_TOKENIZER_CONFIG)
    proc = VLChatProcessor(VLMImageProcessor(image_size=384, image_mean=(0.5, 0.5, 0.5), image_std=(0.5, 0.5, 0.5)), tok)
    tag, image_id = proc.image_tag, proc.image_id
    cases = []
    all_cases = [(n, m, i, None) for n, m, i in VL1_CASES] + VL1_SYSTEM_CASES
    for seed, (name, msgs, sizes, system_prompt) in enumerate(all_cases):
        conv = messages_for(msgs, tag, "User", "Assistant")
        images = [image(w, h, seed + k) for k, (w, h) in enumerate(sizes)]
        if system_prompt is None:
            out = proc(conversations=conv, images=images, force_batchify=False)
            used_system = proc.system_prompt
        else:
            sft = proc.apply_sft_template_for_multi_turn_prompts(conv, sft_format=proc.sft_format,
                                                                 system_prompt=system_prompt)
            out = proc(prompt=sft, images=images, force_batchify=False)
            used_system = system_prompt
        ids = out.input_ids.tolist()
        counts = [int(n) for n in out.num_image_tokens.tolist()]
        assert len(counts) == len(sizes) and ids[0] == tok.bos_token_id
        prompt = spell(tok, ids[1:], image_id, counts, tag)
        assert prompt == out.sft_format, (name, prompt, out.sft_format)
        cases.append({"name": name, "messages": conv, "system_prompt": used_system,
                      "images": [{"width": w, "height": h, "num_image_tokens": n} for (w, h), n in zip(sizes, counts)],
                      "sft_format": out.sft_format, "prompt": prompt, "input_ids": ids})
    return {
        "reference": "official processor",
        "processor": "deepseek_vl.models.VLChatProcessor", "code": VL1_CODE, "versions": versions(),
        "tokenizer": {"path": "tokenizers/deepseek-vl-v1/tokenizer.json", "tokenizer_config": written},
        "image_tag": tag, "image_token_id": image_id, "bos_id": tok.bos_token_id, "eos_id": tok.eos_token_id,
        "pad_id": proc.pad_id, "system_prompt": proc.system_prompt, "cases": cases,
    }


def run_vl2(root, folder, tokenizer_config):
    tok, written = load_tokenizer(os.path.join(root, folder), tokenizer_config)
    with open(os.path.join(root, "deepseek-vl2", "processor_config.json"), encoding="utf-8") as f:
        pc = json.load(f)
    pc.pop("processor_class", None)
    proc = DeepseekVLV2Processor(tokenizer=tok, **pc)
    tag, image_id = proc.image_token, proc.image_token_id
    cases = []
    runs = [(n, m, i, True) for n, m, i in VL2_CASES]
    runs.append(("training mode keeps the final EOS", [(U, "{img}\nWhat is it?"), (A, "A cat.")], [(700, 500)], False))
    for seed, (name, msgs, sizes, inference_mode) in enumerate(runs):
        conv = messages_for(msgs, tag, "<|User|>", "<|Assistant|>")
        images = [image(w, h, seed + k) for k, (w, h) in enumerate(sizes)]
        out = proc(conversations=conv, images=images, force_batchify=False, inference_mode=inference_mode,
                   system_prompt="")
        ids = out.input_ids.tolist()
        counts = [int(n) for n in out.num_image_tokens]
        crop = out.images_spatial_crop.tolist() if sizes else []
        assert len(counts) == len(sizes) == len(crop) and ids[0] == tok.bos_token_id
        cropping = len(images) <= 2
        entries = []
        for (w, h), n, (nw, nh) in zip(sizes, counts, crop):
            # The processor's choice, re-derived from its own selection function, and the spec's count formula.
            best = select_best_resolution((w, h), proc.candidate_resolutions) if cropping else (384, 384)
            assert (nw * 384, nh * 384) == tuple(best), (name, (w, h), best, (nw, nh))
            assert n == 14 * 15 + 1 + (14 * nh) * (14 * nw + 1), (name, n, nw, nh)
            entries.append({"width": w, "height": h, "width_tiles": nw, "height_tiles": nh, "num_image_tokens": n})
        cases.append({"name": name, "messages": conv, "inference_mode": inference_mode, "cropping": cropping,
                      "images": entries, "sft_format": out.sft_format,
                      "prompt": spell(tok, ids[1:], image_id, counts, tag), "input_ids": ids})
    return {
        "reference": "official processor",
        "processor": "deepseek_vl2.models.DeepseekVLV2Processor", "code": VL2_CODE, "versions": versions(),
        "tokenizer": {"path": f"tokenizers/{folder}/tokenizer.json", "tokenizer_config": written},
        "processor_config": "tokenizers/deepseek-vl2/processor_config.json",
        "image_tag": tag, "image_token_id": image_id, "bos_id": proc.bos_id, "eos_id": proc.eos_id,
        "pad_id": proc.pad_id, "cases": cases,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizers", default=default_tokenizer_root(), help="folder of the shared tokenizer folders")
    args = ap.parse_args()
    docs = {
        "deepseek-vl-v1": run_vl1(args.tokenizers),
        "deepseek-vl2": run_vl2(args.tokenizers, "deepseek-vl2", None),
        "deepseek-vl2-small": run_vl2(args.tokenizers, "deepseek-vl2-small", VL2_SMALL_TOKENIZER_CONFIG),
    }
    for name, doc in docs.items():
        path = os.path.join(OUT_DIR, name + ".json")
        dump(path, doc)
        print(f"wrote {os.path.relpath(path, REPO)}: {len(doc['cases'])} cases")


if __name__ == "__main__":
    main()
