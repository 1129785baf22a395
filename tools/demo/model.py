"""The DeepSeek-VL-1.3B architecture in PyTorch from PyPI parts, with the official tensor names.

The official MultiModalityCausalLM (github.com/deepseek-ai/DeepSeek-VL, not on PyPI) composes:

  vision_model.vision_tower   timm VisionTransformer (class_token False, global_pool 'map', no
                              head), run through forward_features (blocks, then the final norm),
                              all blocks kept (select_layer -1), every token kept (select_feature
                              'same'); the tower first normalizes pixels with pixel_mean / pixel_std
  aligner.layers              MlpProjector 'mlp_gelu', depth 2: Linear, GELU, Linear
  language_model              transformers LlamaForCausalLM

and the image tokens' embeddings are replaced by the aligner's outputs (prepare_inputs_embeds).
`check_against_fixture` runs this module on tests/data/deepseek_vl/tiny-siglip, which the official
code computed, so the composition here is tested against the official one.
"""

import json
import os

import numpy as np
import timm
import torch
import transformers
from PIL import Image
from safetensors.torch import load_file

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
IMAGE_TAG = "<image_placeholder>"
# VLChatProcessor's default system prompt for sft_format "deepseek".
SYSTEM_PROMPT = ("You are a helpful language and vision assistant. You are able to understand the visual content "
                 "that the user provides, and assist the user with a variety of tasks using natural language.")


class VisionTower(torch.nn.Module):
    def __init__(self, image_size, table, pixel_mean, pixel_std):
        super().__init__()
        self.vision_tower = timm.models.vision_transformer.VisionTransformer(
            img_size=image_size, patch_size=table["patch_size"], embed_dim=table["width"], depth=table["layers"],
            num_heads=table["heads"], mlp_ratio=table["mlp_ratio"], class_token=False,
            global_pool=table["global_pool"], num_classes=0)
        self.register_buffer("mean", torch.tensor(pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(pixel_std).view(1, 3, 1, 1), persistent=False)

    def forward(self, pixels):
        return self.vision_tower.forward_features((pixels - self.mean) / self.std)


class MultiModalityCausalLM(torch.nn.Module):
    def __init__(self, config, vision_table):
        super().__init__()
        v = config["vision_config"]["params"]
        a = config["aligner_config"]["params"]
        assert config["vision_config"]["cls"] == "CLIPVisionTower" and a["projector_type"] == "mlp_gelu"
        assert v["select_layer"] == -1 and v["select_feature"] == "same" and a["depth"] == 2
        self.vision_model = VisionTower(v["image_size"], vision_table[v["model_name"]], v["pixel_mean"], v["pixel_std"])
        self.aligner = torch.nn.Module()
        self.aligner.layers = torch.nn.Sequential(torch.nn.Linear(a["input_dim"], a["n_embed"]), torch.nn.GELU(),
                                                  torch.nn.Linear(a["n_embed"], a["n_embed"]))
        lc = {k: val for k, val in config["language_config"].items() if k not in ("model_type", "torch_dtype")}
        self.language_model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**lc))

    def image_embeds(self, pixels):
        """pixels [B, 3, S, S] in [0, 1] -> [B, tokens, D]."""
        return self.aligner.layers(self.vision_model(pixels))

    def inputs_embeds(self, input_ids, image_mask, pixels):
        embeds = self.language_model.model.embed_tokens(input_ids)
        images = self.image_embeds(pixels)
        return embeds.masked_scatter(image_mask.unsqueeze(-1), images.reshape(-1, images.shape[-1]).to(embeds.dtype))

    @torch.no_grad()
    def greedy(self, input_ids, pixels, image_id, eos_id, max_new_tokens):
        """Greedy tokens after one prompt (1-D ids), stopping after EOS, with a KV cache, and the
        smallest top-1 minus top-2 logit over the steps."""
        ids = input_ids.unsqueeze(0)
        embeds = self.inputs_embeds(ids, ids == image_id, pixels.unsqueeze(0))
        out = self.language_model(inputs_embeds=embeds, use_cache=True)
        tokens, margin = [], float("inf")
        for _ in range(max_new_tokens):
            top = out.logits[0, -1].topk(2)
            nxt = int(top.indices[0])
            margin = min(margin, float(top.values[0] - top.values[1]))
            tokens.append(nxt)
            if nxt == eos_id:
                break
            out = self.language_model(input_ids=torch.tensor([[nxt]]), past_key_values=out.past_key_values,
                                      use_cache=True)
        return tokens, margin


def load_image(path):
    return Image.open(path).convert("RGB")


def preprocess(img, image_size, background, min_size=14):
    """VLMImageProcessor with do_normalize false: long side to image_size (Pillow bicubic, as
    torchvision's PIL path does), pad to a square centred on `background`, scale to [0, 1]."""
    w, h = img.size
    m = max(w, h)
    size = (max(int(w / m * image_size), min_size), max(int(h / m * image_size), min_size))
    if size != img.size:
        img = img.resize(size, Image.BICUBIC)
    w, h = img.size
    if w != h:
        square = Image.new("RGB", (max(w, h), max(w, h)), tuple(background))
        square.paste(img, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
        img = square
    return torch.from_numpy(np.asarray(img, dtype=np.float32) * np.float32(1 / 255)).permute(2, 0, 1).contiguous()


def prompt_text(question, num_image_tokens, system_prompt=SYSTEM_PROMPT):
    """The 'deepseek' chat template for one user turn with the image first, ready for the answer."""
    head = (system_prompt + "\n\n") if system_prompt else ""
    return head + "User: " + IMAGE_TAG * num_image_tokens + question + "\n\nAssistant:"


def load_model_dir(folder, dtype=torch.float32):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(folder, "vision_models.json"), encoding="utf-8") as f:
        table = json.load(f)["SigLIP_MODEL_CONFIG"]
    model = MultiModalityCausalLM(config, table)
    state = {k: v.to(dtype) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # transformers ties nothing here; rotary inv_freq buffers are not in the checkpoint.
    assert not unexpected and all("rotary_emb" in k for k in missing), (missing, unexpected)
    return model.eval(), config


def check_against_fixture(repo):
    """Runs tiny-siglip's 'one_image' case and compares with what the official code recorded."""
    folder = os.path.join(repo, "tests", "data", "deepseek_vl", "tiny-siglip")
    model, config = load_model_dir(folder)
    ref = load_file(os.path.join(folder, "reference.safetensors"))
    pixels = ref["one_image.pixel_values.u8"].to(torch.float32) / 255
    ids = ref["one_image.input_ids"]
    with torch.no_grad():
        image = model.image_embeds(pixels)[0]
        embeds = model.inputs_embeds(ids.unsqueeze(0), (ids == 2015).unsqueeze(0), pixels)
        logits = model.language_model(inputs_embeds=embeds).logits[0]
    pos = ref["one_image.logits_positions"]
    errs = {"image_embeds": (image - ref["one_image.image_embeds"]).abs().max().item(),
            "logits": (logits[pos] - ref["one_image.logits"]).abs().max().item()}
    greedy, _ = model.greedy(ids, pixels[0], 2015, 10 ** 9, 32)
    assert greedy == ref["one_image.greedy_ids"].tolist(), greedy
    assert max(errs.values()) < 1e-4, errs
    return errs
