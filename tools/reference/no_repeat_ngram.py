"""The no-repeat n-gram rule of DeepSeek-OCR, from the official code.

Writes tests/data/sampler/no_repeat_ngram.json, read by tests/language/no_repeat_ngram_test.cpp.
Each case is a sequence of generated ids, the rule's settings, and for every prefix of the
sequence (length 0 to its length) the ids whose scores the official NoRepeatNGramLogitsProcessor
sets to -inf when called with that prefix, as vLLM's V0 engine calls it (output ids only).

The official code is not on PyPI. Get it from GitHub:

    git clone https://github.com/deepseek-ai/DeepSeek-OCR /tmp/DeepSeek-OCR
    git -C /tmp/DeepSeek-OCR checkout e4ac34e1e59b891163fb9325480fbedec865e1f0

Then, from the repository root:

    python3 tools/reference/no_repeat_ngram.py /tmp/DeepSeek-OCR

The processor's module imports torch and transformers only for its base class and a type
annotation, and its __call__ touches the scores through clone() and item assignment. So that the
script needs neither, it puts stand-ins for the two modules in sys.modules before importing the
official file unchanged, and passes the scores as a list with a clone() method; with torch and
transformers installed it uses them instead, and gets the same file.
"""

import json
import os
import random
import sys
import types

COMMIT = "e4ac34e1e59b891163fb9325480fbedec865e1f0"
MODULE = "DeepSeek-OCR-master/DeepSeek-OCR-vllm/process"
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "sampler", "no_repeat_ngram.json")


class Scores(list):
    """What the processor's __call__ needs of a torch tensor: clone() and item assignment."""

    def clone(self):
        return Scores(self)


def load_processor(repo):
    """The official class, and a function that makes zero scores for it."""
    try:
        import torch
        import transformers  # noqa: F401
        zeros = lambda vocab: torch.zeros(vocab)  # noqa: E731
    except ImportError:
        stand_in = types.ModuleType("torch")
        stand_in.FloatTensor = object
        tf = types.ModuleType("transformers")
        tf.LogitsProcessor = object
        logits_process = types.ModuleType("transformers.generation.logits_process")
        logits_process._calc_banned_ngram_tokens = None
        sys.modules.update({"torch": stand_in, "transformers": tf,
                            "transformers.generation": types.ModuleType("transformers.generation"),
                            "transformers.generation.logits_process": logits_process})
        zeros = lambda vocab: Scores([0.0] * vocab)  # noqa: E731
    sys.path.insert(0, os.path.join(repo, MODULE))
    from ngram_norepeat import NoRepeatNGramLogitsProcessor
    return NoRepeatNGramLogitsProcessor, zeros


def banned_after_each_prefix(processor, zeros, ids, vocab):
    out = []
    for L in range(len(ids) + 1):
        scores = [float(s) for s in processor(list(ids[:L]), zeros(vocab))]
        out.append([i for i, s in enumerate(scores) if s == float("-inf")])
    return out


def case(official, name, ngram_size, window_size, whitelist, ids, vocab):
    Processor, zeros = official
    p = Processor(ngram_size=ngram_size, window_size=window_size, whitelist_token_ids=set(whitelist))
    return {"name": name, "ngram_size": ngram_size, "window_size": window_size,
            "whitelist_token_ids": sorted(whitelist), "vocab": vocab, "input_ids": ids,
            "banned": banned_after_each_prefix(p, zeros, ids, vocab)}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    official = load_processor(sys.argv[1])
    cases = [
        case(official, "n 1 bans nothing", 1, 10, [], [3, 3, 3, 1, 3], 4),
        case(official, "n 2, a constant run", 2, 100, [], [2, 2, 2, 2], 4),
        case(official, "n 3, period 2", 3, 100, [], [0, 1, 0, 1, 0, 1], 3),
        case(official, "window below n sees nothing", 3, 2, [], [0, 1, 0, 1, 0, 1], 3),
        case(official, "window n sees only the last n-gram", 2, 2, [], [0, 0, 1, 1, 0, 1, 1], 3),
        case(official, "window n + 1", 2, 3, [], [0, 1, 0, 2, 0, 1, 0], 3),
        case(official, "window edge: the n-gram starting at L - window counts", 3, 8, [], [0, 1, 5, 9, 8, 7, 0, 1], 10),
        case(official, "window edge: one starting before it does not", 3, 7, [], [0, 1, 5, 9, 8, 7, 0, 1], 10),
        case(official, "whitelist", 2, 100, [1], [0, 1, 0, 2, 0, 1, 2, 0], 3),
    ]
    # DeepSeek-OCR's settings (run_dpsk_ocr_image.py) on a table of identical rows: 12 empty cells
    # (<td> 128821, </td> 128822) and one with text, between row tags (stand-in ids 128819, 128820).
    row = [128819] + [128821, 128822] * 12 + [128821, 5, 128822, 128820]
    table = [7, 8, 128818] + row * 4 + [128823]
    cases.append(case(official, "DeepSeek-OCR: n 30, window 90, <td> </td> exempt", 30, 90, [128821, 128822],
                      table, 128824))
    g = random.Random(20251020)
    for k in range(40):
        vocab = g.randint(2, 4)
        n = g.randint(1, 6)
        window = g.randint(1, 24)
        whitelist = [i for i in range(vocab) if g.random() < 0.2]
        ids = [g.randrange(vocab) for _ in range(g.randint(0, 36))]
        cases.append(case(official, "random %d" % k, n, window, whitelist, ids, vocab))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"reference": "NoRepeatNGramLogitsProcessor",
                   "code": {"repository": "github.com/deepseek-ai/DeepSeek-OCR", "commit": COMMIT,
                            "path": MODULE + "/ngram_norepeat.py"},
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT, len(cases), "cases")


if __name__ == "__main__":
    main()
