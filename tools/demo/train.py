"""Trains the demo model and writes it, its bundled pictures and its accuracy fixture.

    python tools/demo/train.py                                  # about 30 minutes on 2 CPU cores
    python tools/demo/train.py --resume --steps 1200 --lr 4e-4  # 15 more: the committed model

Writes
    examples/models/shapes-vl/       the model directory in the format of deepseek-ai/deepseek-vl-1.3b-chat
                                     (config.json, model.safetensors in bf16 with the official names,
                                     tokenizer.json, tokenizer_config.json, processor_config.json,
                                     preprocessor_config.json) plus vision_models.json, the
                                     official SigLIP name table with this tower's entry
    examples/images/shapes-*.png     pictures for the README, with what the model answers
    tests/data/shapes_vl/            the accuracy fixture: 200 pictures drawn with a seed that
                                     training never uses, the questions, the true answers and the
                                     answers of this PyTorch model (greedy, f32 on the bf16 weights)

The model is the DeepSeek-VL-1.3B architecture (model.py) at a small size: a SigLIP ViT on 96x96
pictures with 32-pixel patches (9 image tokens, one per cell of the scenes' 3 x 3 grid), the
mlp_gelu aligner and a LLaMA decoder, with a byte-level BPE tokenizer trained here on the prompts'
words. Training sees only scenes.py's pictures, drawn at 96, 144 or 192 pixels and resized by the
official preprocessing:

  1. the vision tower alone, with training-only probes (SceneProbes) that read what is in each
     token's cell and what is written;
  2. the whole model on conversations of up to four questions about one picture in the official
     'deepseek' template with its default system prompt (the first turn is exactly the prompt
     `dsvl run` builds), loss on the answer tokens and EOS, the probes still on. The decoder's
     matrices start at N(0, 0.06^2) rather than transformers' 0.02, which shortened the plateau
     before it learned to look at the image tokens.
  3. (--resume) more of stage 2 at a lower learning rate, from the written bf16 weights with fresh
     probes: the first run ends at about 93% on the validation scenes, mostly missing "where"
     questions, and this lifts them.

Seeds: 1 for the initial weights, 2 for the training scenes, 3 for the validation scenes scored
while training, 4 for the README pictures, 5 for the accuracy fixture.

Needs, from PyPI (the versions the committed files were made with; others train as well but
not to the same bits):

    pip install torch==2.0.1 timm==0.9.16 transformers==4.38.2 tokenizers==0.15.2 safetensors \
        "numpy<2" pillow==10.2.0
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import tokenizers
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as vl  # noqa: E402
from scenes import COLOURS, SHAPES, WORDS, QUESTION_KINDS, Sample, SceneMaker, corpus_texts  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL_DIR = os.path.join(REPO, "examples", "models", "shapes-vl")
IMAGES_DIR = os.path.join(REPO, "examples", "images")
FIXTURE_DIR = os.path.join(REPO, "tests", "data", "shapes_vl")
DEEPSEEK_LLM_TOKENIZER = os.path.join(REPO, "tests", "data", "tokenizer", "tiny-deepseek-llm", "tokenizer.json")
SIGLIP_TABLE = os.path.join(REPO, "tests", "data", "deepseek_vl", "vision_models.json")

SEED_INIT, SEED_TRAIN, SEED_VALID, SEED_README, SEED_FIXTURE = 1, 2, 3, 4, 5
IMAGE_SIZE, PATCH = 96, 32
NUM_IMAGE_TOKENS = (IMAGE_SIZE // PATCH) ** 2
TOWER_NAME = "siglip_demo_patch32_96"
TOWER = {"image_size": IMAGE_SIZE, "patch_size": PATCH, "width": 160, "layers": 4, "heads": 4, "mlp_ratio": 4,
         "global_pool": "map", "use_checkpoint": False}
HIDDEN, LAYERS, HEADS, INTERMEDIATE = 160, 4, 4, 432
RENDER_SIZES = (96, 144, 192)
MAX_NEW_TOKENS = 8
FIXTURE_COUNT = 200


# -- tokenizer --------------------------------------------------------------------------------

def build_tokenizer():
    """A byte-level BPE with DeepSeek-LLM's pre-tokenizer, trained on the prompts' text, then BOS,
    EOS and <image_placeholder> as special tokens after the BPE vocabulary (as in DeepSeek-VL's)."""
    with open(DEEPSEEK_LLM_TOKENIZER, encoding="utf-8") as f:
        base = json.load(f)
    base["added_tokens"] = []
    base["model"]["vocab"] = {}
    base["model"]["merges"] = []
    tok = tokenizers.Tokenizer.from_str(json.dumps(base))
    corpus = [vl.SYSTEM_PROMPT + "\n\nUser: ", "\n\nAssistant:"] + corpus_texts()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=1000, show_progress=False,
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus * 4, trainer)
    n = tok.get_vocab_size()
    for text in (vl.BOS, vl.EOS, vl.IMAGE_TAG):
        tok.add_special_tokens([tokenizers.AddedToken(text, normalized=False, special=True)])
    out = json.loads(tok.to_str())
    out["model"].pop("ignore_merges", None)
    ids = {t["content"]: t["id"] for t in out["added_tokens"]}
    assert [ids[vl.BOS], ids[vl.EOS], ids[vl.IMAGE_TAG]] == [n, n + 1, n + 2]
    return tokenizers.Tokenizer.from_str(json.dumps(out)), out, n


class Prompts:
    def __init__(self, tok, bos_id, eos_id):
        self.tok, self.bos_id, self.eos_id = tok, bos_id, eos_id
        self.cache = {}

    def prompt(self, question):
        key = ("first", question)
        if key not in self.cache:
            text = vl.prompt_text(question, NUM_IMAGE_TOKENS)
            self.cache[key] = [self.bos_id] + self.tok.encode(text, add_special_tokens=False).ids
        return self.cache[key]

    def next_turn(self, question):
        """A later user turn: the template puts it right after the previous answer's EOS."""
        if question not in self.cache:
            self.cache[question] = self.tok.encode("User: " + question + "\n\nAssistant:", add_special_tokens=False).ids
        return self.cache[question]

    def answer(self, answer):
        return self.tok.encode(" " + answer, add_special_tokens=False).ids + [self.eos_id]

    def decode(self, ids):
        return self.tok.decode([i for i in ids if i != self.eos_id]).strip()


# -- model files ------------------------------------------------------------------------------

def model_config(vocab_size, bos_id, eos_id):
    return {
        "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
                           "params": {"depth": 2, "input_dim": TOWER["width"], "n_embed": HIDDEN,
                                      "projector_type": "mlp_gelu"}},
        "architectures": ["MultiModalityCausalLM"],
        "language_config": {"bos_token_id": bos_id, "eos_token_id": eos_id, "hidden_size": HIDDEN,
                            "intermediate_size": INTERMEDIATE, "max_position_embeddings": 1024,
                            "model_type": "llama", "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
                            "num_key_value_heads": HEADS, "torch_dtype": "bfloat16", "vocab_size": vocab_size},
        "model_type": "multi_modality",
        "torch_dtype": "bfloat16",
        "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision",
                          "params": {"image_size": IMAGE_SIZE, "model_name": TOWER_NAME,
                                     "pixel_mean": [0.5, 0.5, 0.5], "pixel_std": [0.5, 0.5, 0.5],
                                     "select_feature": "same", "select_layer": -1}},
    }


def vision_table():
    with open(SIGLIP_TABLE, encoding="utf-8") as f:
        table = json.load(f)
    for name in table.pop("tiny"):
        table["SigLIP_MODEL_CONFIG"].pop(name, None)
        table["SAM_MODEL_CONFIG"].pop(name, None)
    table["SigLIP_MODEL_CONFIG"][TOWER_NAME] = TOWER
    table["about"] = ("name tables of deepseek_vl.models.siglip_vit / sam (the official entries and this "
                      "model's tower) and sizes the official code sets in code")
    return table


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def write_model_dir(model, config, tokenizer_json, bos_id, eos_id):
    os.makedirs(MODEL_DIR, exist_ok=True)
    write_json(os.path.join(MODEL_DIR, "config.json"), config)
    write_json(os.path.join(MODEL_DIR, "vision_models.json"), vision_table())
    write_json(os.path.join(MODEL_DIR, "preprocessor_config.json"), {
        "background_color": [127, 127, 127], "do_normalize": False, "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "VLMImageProcessor", "image_size": IMAGE_SIZE, "image_std": [0.5, 0.5, 0.5],
        "min_size": 14, "processor_class": "VLChatProcessor", "rescale_factor": 0.00392156862745098})
    write_json(os.path.join(MODEL_DIR, "processor_config.json"), {
        "add_special_token": False, "ignore_id": -100, "image_tag": vl.IMAGE_TAG, "mask_prompt": True,
        "num_image_tokens": NUM_IMAGE_TOKENS, "processor_class": "VLChatProcessor", "sft_format": "deepseek"})
    write_json(os.path.join(MODEL_DIR, "tokenizer_config.json"), {
        "add_bos_token": True, "add_eos_token": False, "bos_token": vl.BOS, "clean_up_tokenization_spaces": False,
        "eos_token": vl.EOS, "legacy": True, "model_max_length": 1024, "pad_token": None,
        "tokenizer_class": "LlamaTokenizerFast", "unk_token": None})
    with open(os.path.join(MODEL_DIR, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(tokenizer_json, ensure_ascii=False, indent=2) + "\n")
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(MODEL_DIR, "model.safetensors"), metadata={"format": "pt"})


# -- training ---------------------------------------------------------------------------------

def draw(maker, rng, more=0):
    maker.size = int(rng.choice(RENDER_SIZES))
    return maker.sample(more)


def batch_tensors(samples, prompts):
    seqs, labels, pixels = [], [], []
    for s in samples:
        p, a = prompts.prompt(s.question), prompts.answer(s.answer)
        seq, lab = p + a, [-100] * len(p) + a
        for _, question, answer in s.more:
            p, a = prompts.next_turn(question), prompts.answer(answer)
            seq, lab = seq + p + a, lab + [-100] * len(p) + a
        seqs.append(seq)
        labels.append(lab)
        pixels.append(vl.preprocess(s.picture, IMAGE_SIZE, (127, 127, 127)))
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), prompts.eos_id, dtype=torch.long)
    lab = torch.full((len(seqs), n), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, (s, l) in enumerate(zip(seqs, labels)):
        ids[i, :len(s)] = torch.tensor(s)
        lab[i, :len(l)] = torch.tensor(l)
        mask[i, :len(s)] = 1
    return ids, lab, mask, torch.stack(pixels)


def evaluate(model, samples, prompts, image_id):
    """Greedy answers to samples [(picture, kind, question, answer)] and each one's smallest
    top-1 minus top-2 logit."""
    model.eval()
    answers, margins = [], []
    for s in samples:
        ids = torch.tensor(prompts.prompt(s.question))
        pixels = vl.preprocess(s.picture, IMAGE_SIZE, (127, 127, 127))
        tokens, margin = model.greedy(ids, pixels, image_id, prompts.eos_id, MAX_NEW_TOKENS)
        answers.append(prompts.decode(tokens))
        margins.append(margin)
    model.train()
    return answers, margins


def accuracy_by_kind(samples, answers):
    out = {}
    for kind in QUESTION_KINDS:
        rows = [(s.answer, a) for s, a in zip(samples, answers) if s.kind == kind]
        if rows:
            out[kind] = (sum(t == a for t, a in rows), len(rows))
    total = sum(s.answer == a for s, a in zip(samples, answers))
    out["all"] = (total, len(samples))
    return out


def fmt(acc):
    return " ".join(f"{k} {c}/{n}" for k, (c, n) in acc.items())


class SceneProbes(torch.nn.Module):
    """Training-only linear probes on the vision tower's output, not part of the exported model.

    Answer tokens give the tower a weak signal (a few tokens per picture, through the decoder);
    the probes add a dense one from the same scenes: every image token predicts the shape and the
    colour of what sits in its grid cell, and the mean of the tokens predicts whether a number or a
    word is written and which. Without them the tower learned slowly; see docs/demo.md."""

    def __init__(self, width):
        super().__init__()
        self.cell = torch.nn.Linear(width, 1 + len(SHAPES) + 1 + len(COLOURS))
        self.text = torch.nn.Linear(width, 3 + 11 + 1 + len(WORDS))

    def loss(self, features, labels):
        cell_shape, cell_colour, text = labels
        ce = torch.nn.functional.cross_entropy
        c = self.cell(features)
        ns = 1 + len(SHAPES)
        loss = ce(c[..., :ns].flatten(0, 1), cell_shape.flatten()) + ce(c[..., ns:].flatten(0, 1), cell_colour.flatten())
        g = self.text(features.mean(1))
        bounds = np.cumsum([0, 3, 11, 1 + len(WORDS)])
        for i in range(3):
            loss = loss + ce(g[:, bounds[i]:bounds[i + 1]], text[:, i])
        return loss


def probe_labels(samples):
    """Per image token (row-major over the patch grid): the shape and colour in the grid cell that
    holds the token's centre (0: none); per picture: text kind, digit, word."""
    side = IMAGE_SIZE // PATCH
    centres = (np.arange(side) * PATCH + PATCH / 2) * 3 // IMAGE_SIZE
    token_cell = (centres[:, None] * 3 + centres[None, :]).reshape(-1).astype(int)
    shapes, colours, texts = [], [], []
    for s in samples:
        by_cell = {cell: (SHAPES.index(shape) + 1, list(COLOURS).index(colour) + 1)
                   for cell, shape, colour in s.scene["objects"]}
        shapes.append([by_cell.get(c, (0, 0))[0] for c in token_cell])
        colours.append([by_cell.get(c, (0, 0))[1] for c in token_cell])
        text, kind = s.scene["text"], s.scene["text_kind"]
        if kind == "number":
            texts.append([1, int(text) + 1, 0])
        elif kind == "word":
            texts.append([2, 0, WORDS.index(text) + 1])
        else:
            texts.append([0, 0, 0])
    return torch.tensor(shapes), torch.tensor(colours), torch.tensor(texts)


def optimizer(named, lr, steps):
    """AdamW (weight decay on matrices only) with a 5% linear warmup and a cosine decay to 0."""
    decay = [p for n, p in named if p.ndim >= 2 and "pos_embed" not in n]
    other = [p for n, p in named if not (p.ndim >= 2 and "pos_embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98))
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    return opt, sched


def train(model, prompts, image_id, args, log):
    """Stage 1: the vision tower alone with the probes. Stage 2: everything, on conversations of up
    to 1 + args.more_turns questions about a picture (the first turn is exactly `dsvl run`'s prompt),
    the probes still on."""
    maker, rng = SceneMaker(SEED_TRAIN), np.random.default_rng(SEED_TRAIN + 100)
    valid_maker, valid_rng = SceneMaker(SEED_VALID), np.random.default_rng(SEED_VALID + 100)
    valid = [draw(valid_maker, valid_rng) for _ in range(200)]
    probes = SceneProbes(TOWER["width"])
    t0 = time.time()

    def run(stage, named, steps, lr, loss_of, more):
        opt, sched = optimizer(named, lr, steps)
        running = None
        for step in range(1, steps + 1):
            loss = loss_of([draw(maker, rng, more) for _ in range(args.batch)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
            opt.step()
            sched.step()
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            if step % 50 == 0:
                log(f"{stage} step {step}/{steps} loss {running:.4f} {time.time() - t0:.0f} s")
            if stage == "joint" and (step % args.valid_every == 0 or step == steps):
                log(f"  validation: {fmt(accuracy_by_kind(valid, evaluate(model, valid, prompts, image_id)[0]))}")

    def vision_loss(samples):
        pixels = torch.stack([vl.preprocess(s.picture, IMAGE_SIZE, (127, 127, 127)) for s in samples])
        return probes.loss(model.vision_model(pixels), probe_labels(samples))

    def joint_loss(samples):
        ids, lab, mask, pixels = batch_tensors(samples, prompts)
        features = model.vision_model(pixels)
        images = model.aligner.layers(features)
        embeds = model.language_model.model.embed_tokens(ids).masked_scatter(
            (ids == image_id).unsqueeze(-1), images.reshape(-1, images.shape[-1]))
        loss = model.language_model(inputs_embeds=embeds, attention_mask=mask, labels=lab).loss
        return loss + 0.5 * probes.loss(features, probe_labels(samples))

    model.train()
    if args.lm_init_std > 0 and not args.resume:
        with torch.no_grad():
            for name, p in model.language_model.named_parameters():
                if p.ndim == 2:
                    p.normal_(0.0, args.lm_init_std)
    vision = list(model.vision_model.named_parameters()) + list(probes.named_parameters())
    if not args.resume:
        run("vision", vision, args.vision_steps, args.lr, vision_loss, 0)
    everything = list(model.named_parameters()) + list(probes.named_parameters())
    run("joint", everything, args.steps, args.lr, joint_loss, args.more_turns)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vision-steps", type=int, default=600)
    ap.add_argument("--steps", type=int, default=2200)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--lm-init-std", type=float, default=0.06)
    ap.add_argument("--more-turns", type=int, default=3)
    ap.add_argument("--valid-every", type=int, default=250)
    ap.add_argument("--resume", action="store_true",
                    help="continue the joint stage from the model already written (its bf16 weights)")
    ap.add_argument("--outputs-only", action="store_true",
                    help="skip training: redraw the pictures and the fixture with the model already written")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED_INIT)
    log = lambda s: print(s, flush=True)

    tok, tokenizer_json, n_bpe = build_tokenizer()
    bos_id, eos_id, image_id = n_bpe, n_bpe + 1, n_bpe + 2
    prompts = Prompts(tok, bos_id, eos_id)
    if args.resume:
        model, config = vl.load_model_dir(MODEL_DIR)
        train(model.train(), prompts, image_id, args, log)
        write_model_dir(model, config, tokenizer_json, bos_id, eos_id)
    elif not args.outputs_only:
        vocab_size = (n_bpe + 3 + 63) // 64 * 64
        config = model_config(vocab_size, bos_id, eos_id)
        model = vl.MultiModalityCausalLM(config, {TOWER_NAME: TOWER})
        log(f"tokenizer: {n_bpe} BPE tokens, LM vocab {vocab_size}; prompt "
            f"{len(prompts.prompt('How many circles are there?'))} tokens; "
            f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
        train(model, prompts, image_id, args, log)
        write_model_dir(model, config, tokenizer_json, bos_id, eos_id)
    # What the written directory does: bf16 weights, computed in f32.
    model, _ = vl.load_model_dir(MODEL_DIR)
    write_fixture(model, prompts, image_id, log)
    write_pictures(model, prompts, image_id, log)


def write_fixture(model, prompts, image_id, log):
    maker, rng = SceneMaker(SEED_FIXTURE), np.random.default_rng(SEED_FIXTURE + 100)
    samples = [draw(maker, rng) for _ in range(FIXTURE_COUNT)]
    answers, margins = evaluate(model, samples, prompts, image_id)
    acc = accuracy_by_kind(samples, answers)
    log(f"accuracy fixture (seed {SEED_FIXTURE}): {fmt(acc)}; smallest greedy margin {min(margins):.3f}")
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    cases = []
    for i, (s, got, margin) in enumerate(zip(samples, answers, margins)):
        name = f"{i:03d}.png"
        s.picture.save(os.path.join(FIXTURE_DIR, name), "PNG", optimize=True)
        cases.append({"image": name, "size": s.picture.size[0], "kind": s.kind, "question": s.question,
                      "answer": s.answer, "pytorch": got, "margin": round(margin, 4)})
    write_json(os.path.join(FIXTURE_DIR, "cases.json"), {
        "about": (f"tools/demo/train.py: {FIXTURE_COUNT} scenes drawn with seed {SEED_FIXTURE} (never used in "
                  "training), one question each, the true answer and the PyTorch model's greedy answer "
                  "(examples/models/shapes-vl, f32 on its bf16 weights) with its smallest top-1 minus top-2 logit"),
        "accuracy": {k: f"{c}/{n}" for k, (c, n) in acc.items()},
        "max_new_tokens": MAX_NEW_TOKENS, "pillow": Image.__version__, "torch": torch.__version__,
        "cases": cases})


def write_pictures(model, prompts, image_id, log):
    """Pictures for the README (192 pixels), each with one question of every kind it answers."""
    maker = SceneMaker(SEED_README, size=192)
    os.makedirs(IMAGES_DIR, exist_ok=True)
    listing = []
    for i in range(1, 5):
        scene = maker.scene()
        img = maker.picture(scene)
        name = f"shapes-{i}.png"
        img.save(os.path.join(IMAGES_DIR, name), "PNG", optimize=True)
        by_kind = {}
        for kind, question, answer in maker.questions(scene):
            by_kind.setdefault(kind, (question, answer))
        for kind in QUESTION_KINDS:
            if kind in by_kind:
                question, answer = by_kind[kind]
                got, _ = evaluate(model, [Sample(img, kind, question, answer, scene, [])], prompts, image_id)
                listing.append({"image": name, "question": question, "answer": answer, "pytorch": got[0]})
                log(f"{name}: {question} -> {got[0]} (true: {answer})")
    write_json(os.path.join(IMAGES_DIR, "shapes.json"), {
        "about": "tools/demo/train.py: pictures drawn with seed 4, questions, true answers and the answers of "
                 "examples/models/shapes-vl in PyTorch",
        "questions": listing})


if __name__ == "__main__":
    main()
