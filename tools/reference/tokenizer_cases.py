"""Fixtures for the byte-level BPE tokenizer, from Hugging Face `tokenizers` (and `transformers`).

Writes, under tests/data/tokenizer/:

  <name>.json for each real DeepSeek tokenizer in the shared data folder (deepseek-llm,
      deepseek-vl-v1, deepseek-vl2, deepseek-vl2-small, deepseek-v3, deepseek-coder). These name
      their tokenizer.json relative to the shared data folder (it is too big for the repository).
  tiny-<name>/tokenizer.json and tiny-<name>.json: small tokenizers trained here that use every
      feature (DeepSeek-LLM's and DeepSeek-V3's Split pre-tokenizers, the GPT-2 ByteLevel regex with
      add_prefix_space, added tokens with every flag combination), committed in full so the tests
      run without the shared data folder.

Run from the repository root:

    pip install tokenizers==0.23.3
    python3 -m venv /tmp/tf4 && /tmp/tf4/bin/pip install transformers==4.57.6
    python3 tools/reference/tokenizer_cases.py --transformers-python /tmp/tf4/bin/python

It reads the shared data folder from $DSVL_SHARED_DATA, else `../shared/data` beside the repository
(the same rule as tests/shared_data.hpp). `--transformers-python` names an interpreter that has
transformers 4.57.6; it is run as a child process because transformers 4.x refuses tokenizers
0.23 (its pin is <=0.23.0). It supplies "ids_add_special" (BOS from add_bos_token) for the folders
with a tokenizer_config.json. transformers 5.x is not used for that: for these folders it loads
the generic TokenizersBackend instead of LlamaTokenizerFast, drops add_bos_token and prepends
nothing.

Re-running reproduces every file byte for byte: the corpus and the training text are fixed or come
from seeded generators, BPE training is deterministic (and runs on one thread), and JSON keys are
written in a fixed order.

Fixture file (<name>.json), one case per line:

    {"about": str, "tokenizer": str, "tokenizer_root": "shared_data" | "fixture_dir",
     "tokenizers_version": "0.23.3", "transformers_version": "4.57.6" (only where used),
     "cases": [case, ...]}

  "tokenizer" is relative to the shared data folder ("tokenizers/deepseek-vl2/tokenizer.json") or,
  for the tiny tokenizers, to the folder of the fixture ("tiny-gpt2/tokenizer.json").

    case = {"source": "llama.cpp" | "vl-extra" | "corpus" | "added-tokens",
            "name": str,               # unique within the file
            "text": text,
            "ids": [int],              # Tokenizer.encode(text, add_special_tokens=False).ids
            "decoded": text,           # Tokenizer.decode(ids, skip_special_tokens=False)
            "decoded_skip_special": text,   # ... skip_special_tokens=True
            "ids_add_special": [int]}  # only some cases of deepseek-v3 and deepseek-vl2:
                                       # AutoTokenizer.encode(text, add_special_tokens=True)

  A text is a JSON string, or, for most long inputs (names "long/..."), an array of
  [piece, count] pairs whose concatenation (each piece repeated count times) is the string. When
  "text" is such an array, "ids" is too: an array of [[int], count] pairs, expanded the same way.
  "decoded" and "decoded_skip_special" may then also be arrays of [piece, count] pairs.

Added tokens of the tiny tokenizers: BOS/EOS (and pad in tiny-deepseek-v3, where they are
vocabulary entries 0-2 as in DeepSeek-V3), DeepSeek-LLM's 13 Latin-1 byte symbols (only in
tiny-deepseek-llm, whose vocabulary lacks those symbols, as DeepSeek-LLM's does), the DeepSeek-VL2
tokens, and "<f00>".."<f31>", one per flag combination: bit 16 special, 8 normalized, 4 lstrip,
2 rstrip, 1 single_word (so "<f06>" is lstrip+rstrip, not special, normalized=false). See
tiny_added_tokens() for the rest.

What the cases pin (HF tokenizers 0.23 source, tokenizers/src/tokenizer/added_vocabulary.rs,
pre_tokenizers/byte_level.rs, tokenizer/mod.rs):

  - Added tokens are cut out of the raw text before the pre-tokenizer, in two passes: first the
    tokens with normalized=false over the whole text, then the tokens with normalized=true inside
    each remaining gap (after the normalizer, which is empty here). So with "yzw" (normalized=false)
    and "xyz" (normalized=true), "xyzw" gives "x" + "yzw", although "xyz" starts earlier.
  - Within a pass the match is Aho-Corasick leftmost-longest and non-overlapping: "<a><b>" beats
    "<a>", "xyz" beats "xy". A single_word match that is rejected still consumes its span: with
    "dax" (single_word) and "axe", "bdaxe" contains neither token.
  - single_word: the match is rejected when the character before it or after it is a word
    character in the sense of Rust regex \\w (Alphabetic, Mark, Nd, Pc such as '_', Join_Control
    such as U+200D). "\u00b2" and "\u00bd" (No) are not word characters, "\u216b" (Nl, Alphabetic)
    is.
  - lstrip: the token absorbs the run of White_Space before it (\\s*), but never reaches back into
    the previous token emitted in the same pass; rstrip absorbs the White_Space after it, even
    when that overlaps the start of the next match of the same pass (the next token is still
    emitted: with "<f10>" (rstrip) and " <sp>", both normalized, "<f10> <sp>" gives both ids; with
    "<f02>" (rstrip, normalized=false) the first pass takes the space and " <sp>" is not found).
  - An added token whose content is already a vocabulary entry takes that id ("world" here; the
    V3-style BOS/EOS/pad at ids 0-2).
  - ByteLevel with add_prefix_space=true prepends " " to every piece left between added tokens
    that does not already start with " " (a tab or newline does not count), so decode does not
    give the input back.
  - Decoding with the ByteLevel decoder: a token whose every character is in the byte-level
    alphabet becomes those bytes, any other token is copied as UTF-8; the bytes of all tokens are
    then decoded with U+FFFD for each maximal invalid subsequence (Rust from_utf8_lossy). Added
    tokens whose text is byte-level symbols therefore decode to U+FFFD: DeepSeek-LLM's 13 Latin-1
    added tokens (ids 100002-100014: "F\\u00fchrer" decodes to "F\\ufffdhrer") and "na\\u00efve"
    here. Added tokens containing a space, CJK or U+FF5C are copied unchanged.
  - skip_special_tokens drops only tokens with special=true (DeepSeek-V3's <|EOT|> is special,
    <｜User｜> is not).
  - The pre-tokenizer regexes use Oniguruma's Unicode data (Unicode 16.0 in tokenizers 0.23.3):
    characters first assigned in Unicode 14-16 (U+1E290, U+1E4D0, U+11F04, U+2EBF0, U+1E5D0,
    U+10D50) are letters, U+10940 (unassigned in Unicode 16.0) is not.

Checks (assertions): HF reproduces the REAL llama.cpp .out ids of deepseek-llm and deepseek-coder,
the REAL vectors of common/reference-vectors.json, and the REAL llama.cpp chkhsh fingerprints of
common/chkhsh.json (deepseek-llm, deepseek-coder, deepseek-v3, and the derived tokenizers that
share them); transformers' ids without special tokens equal those of tokenizers 0.23.3. The
GENERATED .out files of the shared folder (vl-extra.out, deepseek-v3/llamacpp-tests.out) are
compared and the differences are printed, not asserted.
"""

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys

# One rayon thread: the machine is shared, and training must not depend on scheduling.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer")
TOKENIZERS_VERSION = "0.23.3"
TRANSFORMERS_VERSION = "4.57.6"

REAL = ["deepseek-llm", "deepseek-vl-v1", "deepseek-vl2", "deepseek-vl2-small", "deepseek-v3",
        "deepseek-coder"]
SEP = "\n__ggml_vocab_test__\n"

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"


def shared_dir():
    return os.environ.get("DSVL_SHARED_DATA") or os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))


# ----------------------------------------------------------------------------------------------
# Corpus (the same for every tokenizer)
# ----------------------------------------------------------------------------------------------

LATIN1_ADDED = "øöúÿõ÷ûýÀùÁþü"  # DeepSeek-LLM's one-character added tokens, ids 100002..100014

MIXED_PARAGRAPH = (
    "In 2024, the team shipped v2.1.0 of the model\u2014faster, smaller, and 3\u00d7 cheaper. "
    "Die Ergebnisse sind \u00fcberzeugend: \u00fcber 95 % der F\u00e4lle. "
    "Le mod\u00e8le g\u00e8re l'\u00e9t\u00e9 et No\u00ebl. "
    "\u6211\u4eec\u7684\u6a21\u578b\u652f\u6301\u4e2d\u6587\u548c\u65e5\u672c\u8a9e\uff08\u3072\u3089\u304c\u306a\u3001"
    "\u30ab\u30bf\u30ab\u30ca\uff09\u3002 \ud55c\uad6d\uc5b4\ub3c4 \ub429\ub2c8\ub2e4. "
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0645\u0631\u062d\u0628\u0627 "
    "\u05e9\u05dc\u05d5\u05dd \u0928\u092e\u0938\u094d\u0924\u0947 \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35 "
    "\U0001F44B\U0001F3FD\U0001F680 def f(x):\n\treturn x**2  # ok\n\n"
)

ZALGO = ("Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f"
         "A\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0366\u0344\u0327G\u0311\u0357"
         "\u030e\u0305\u035b\u0301\u0334\u033b\u0348\u034d\u0354\u0339O\u0300\u0301\u0302\u0303\u0304"
         "\u0305\u0306\u0307\u0308\u0309\u030a\u030b\u030c\u030d\u030e\u030f!")


def corpus():
    """(name, text) pairs; long inputs are (name, [[piece, count], ...])."""
    c = []
    add = lambda name, text: c.append((name, text))

    # Prose.
    add("prose/en", "The quick brown fox jumps over the lazy dog. It's 9:30 a.m., and we're late!")
    add("prose/de", "Gr\u00f6\u00dfere \u00c4nderungen \u00fcberm\u00e4\u00dfig fr\u00fch: Die Stra\u00dfe ist sch\u00f6n, "
        "aber die Br\u00fccke wurde 1998 gebaut.")
    add("prose/fr", "L'\u00e9t\u00e9 dernier, nous sommes all\u00e9s \u00e0 No\u00ebl chez ma grand-m\u00e8re ; "
        "c'\u00e9tait tr\u00e8s agr\u00e9able\u00a0! \u00c7a va ? \u0152uvre, na\u00efve, co\u00efncidence.")
    add("prose/es", "\u00bfD\u00f3nde est\u00e1 el ni\u00f1o? \u00a1El se\u00f1or Mu\u00f1oz lleg\u00f3 ayer "
        "a C\u00e1diz! Ping\u00fcino, ag\u00fcero.")
    add("prose/vi", "Ti\u1ebfng Vi\u1ec7t c\u00f3 nhi\u1ec1u d\u1ea5u thanh: \u00e0, \u00e1, \u1ea3, \u00e3, "
        "\u1ea1. H\u00e0 N\u1ed9i l\u00e0 th\u1ee7 \u0111\u00f4 c\u1ee7a Vi\u1ec7t Nam.")
    add("prose/ru", "\u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 "
        "\u043c\u044f\u0433\u043a\u0438\u0445 \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 "
        "\u0431\u0443\u043b\u043e\u043a, \u0434\u0430 \u0432\u044b\u043f\u0435\u0439 \u0447\u0430\u044e. "
        "\u0401\u043b\u043a\u0430 \u2014 1999 \u0433.")
    add("prose/el", "\u039e\u03b5\u03c3\u03ba\u03b5\u03c0\u03ac\u03b6\u03c9 \u03c4\u03b7\u03bd "
        "\u03c8\u03c5\u03c7\u03bf\u03c6\u03b8\u03cc\u03c1\u03b1 \u03b2\u03b4\u03b5\u03bb\u03c5\u03b3\u03bc\u03af\u03b1. "
        "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03c3\u03b1\u03c2! \u1f08\u03c1\u03b9\u03c3\u03c4\u03bf"
        "\u03c4\u03ad\u03bb\u03b7\u03c2 \u1f00\u03bd\u03ae\u03c1 \u03ce \u1f7d")
    add("prose/ar", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! \u0647\u0630\u0627 "
        "\u0646\u0635 \u0639\u0631\u0628\u064a \u0642\u0635\u064a\u0631 \u0645\u0639 \u0631\u0642\u0645 "
        "\u0661\u0662\u0663 \u0648\u0639\u0644\u0627\u0645\u0629\u061f \u0643\u064e\u062a\u064e\u0628\u064e")
    add("prose/he", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd! \u05d6\u05d4\u05d5 \u05d8\u05e7\u05e1\u05d8 "
        "\u05e2\u05d1\u05e8\u05d9 \u05e7\u05e6\u05e8, \u05e2\u05dd \u05e0\u05d9\u05e7\u05d5\u05d3: "
        "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd.")
    add("prose/hi", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e! \u092f\u0939 "
        "\u0939\u093f\u0928\u094d\u0926\u0940 \u0915\u093e \u090f\u0915 \u091b\u094b\u091f\u093e "
        "\u0935\u093e\u0915\u094d\u092f \u0939\u0948\u0964 \u0938\u0902\u0916\u094d\u092f\u093e "
        "\u0967\u0968\u0969\u096a.")
    add("prose/th", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 "
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07"
        "\u0e27\u0e48\u0e32\u0e07\u0e23\u0e30\u0e2b\u0e27\u0e48\u0e32\u0e07\u0e04\u0e33 \u0e52\u0e55\u0e56\u0e57")
    add("prose/zh", "\u6211\u4eec\u4eca\u5929\u53bb\u516c\u56ed\u6563\u6b65\uff0c\u5929\u6c14\u5f88\u597d\u3002"
        "\u4eba\u5de5\u667a\u80fd\u6b63\u5728\u6539\u53d8\u4e16\u754c\uff01\u9f98\u9fa5\u9fa6\u9fff\u3400")
    add("prose/ja", "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002\u3072\u3089\u304c\u306a"
        "\u3068\u30ab\u30bf\u30ab\u30ca\u3001\u305d\u3057\u3066\u6f22\u5b57\u3092\u4f7f\u3044\u307e\u3059\u3002"
        "\uff76\uff80\uff76\uff85\uff08\u534a\u89d2\uff09\u3082\u3002\u30fc\u30fb\u309d\u309e\u30fd")
    add("prose/ko", "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4! \ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc740 "
        "\ub744\uc5b4\uc4f0\uae30\ub97c \uc0ac\uc6a9\ud569\ub2c8\ub2e4. \u3131\u314f \u1100\u1161")
    add("prose/mixed", "Hello\u4e16\u754c! 123abc\u65e5\u672c\u8a9e\u30c6\u30ad\u30b9\u30c8\ud55c\uad6d\uc5b4 "
        "\u0645\u0631\u062d\u0628\u0627 \u041f\u0440\u0438\u0432\u0435\u0442 \u03b1\u03b2\u03b3")
    add("prose/khmer-lao-tibetan", "\u1780\u17d2\u1798\u17c2\u179a \u0ea5\u0eb2\u0ea7 \u0f56\u0f7c\u0f51\u0f0b")
    add("prose/georgian-armenian", "\u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8 \u1c90\u1c91 "
        "\u0540\u0561\u0575\u0565\u0580\u0565\u0576 \u13a0\u13a1\u13f8")

    # DeepSeek-LLM's Latin-1 added tokens inside words (ø ö ú ÿ õ ÷ û ý À ù Á þ ü).
    add("latin1/in-words", "s\u00f8ster sch\u00f6n \u00fatil \u00ffes J\u00f5geva 10\u00f72 co\u00fbter r\u00fdma "
        "\u00c0la o\u00f9 \u00c1g\u00fast \u00feorp \u00fcber")
    add("latin1/adjacent", "".join(LATIN1_ADDED) + " " + " ".join(LATIN1_ADDED))
    add("latin1/other", "\u00e9\u00e8\u00ea\u00eb \u00e4\u00e5\u00e6 \u00f1\u00e7 \u00df\u00f0 \u00d8\u00d6\u00dc")

    # Code.
    add("code/python", "import os\n\n\nclass Foo(object):\n    \"\"\"Docstring.\"\"\"\n\n    def bar(self, x=1, *args, **kw):   \n"
        "        if x >= 10 and not kw:\n            return [i ** 2 for i in range(x)]  # squares\n"
        "        return {'a': 1, \"b\": 2.5e-3}\n\n\nif __name__ == \"__main__\":\n    Foo().bar()\n")
    add("code/python-tabs", "def f(a,\tb):\n\tif a:\n\t\treturn b\t# tab before comment\n\telse:\n\t\tpass\n\t\n")
    add("code/cpp", "#include <vector>\n#include \"dsvl/io/json.hpp\"\n\ntemplate <class T>\nstd::vector<T> f(const T& x) {\n"
        "  std::vector<T> v{x, x};  \n  for (auto it = v.begin(); it != v.end(); ++it) *it <<= 2;\n"
        "  return v;  // done\n}\n")
    add("code/json", "{\n  \"name\": \"dsvl\",\n  \"ids\": [1, 22, 333, -4],\n  \"ok\": true,\n  \"x\": null,\n"
        "  \"nested\": {\"a\": {\"b\": [\"\\u00e9\", \"\\n\"]}}\n}\n")
    add("code/shell", "#!/bin/sh\nset -eu\nfor f in *.txt; do\n\tgrep -n \"foo\" \"$f\" | awk '{print $1}' >> out.log\n"
        "done\necho \"${HOME}/bin:$PATH\" 2>&1 && ls -la ~/.config | wc -l   \n")
    add("code/trailing-spaces", "line one   \nline two\t\t\n   \n\tindented line\n        eight spaces\n")
    add("code/markdown", "# Title\n\n- item **bold** _it_ `code`\n1. first\n\n```py\nprint('x')\n```\n> quote\n")

    # Whitespace.
    add("ws/spaces", "a b  c   d    e     f      g       h")
    add("ws/leading", "   leading spaces")
    add("ws/trailing", "trailing spaces   ")
    add("ws/only-spaces", "      ")
    add("ws/only-mixed", " \t \n \t\r\n ")
    add("ws/tabs", "a\tb\t\tc\t\t\td")
    add("ws/mixed", "x \t y\t \tz \t\t w")
    add("ws/nbsp", "a\u00a0b \u00a0c\u00a0\u00a0d \u00a0")
    add("ws/ideographic", "\u65e5\u672c\u3000\u8a9e a\u3000\u3000b \u3000")
    add("ws/line-para-sep", "line\u2028sep\u2029para \u2028 \u2029")
    add("ws/nel", "a\u0085b \u0085 c\u0085")
    add("ws/ogham", "a\u1680b \u1680")
    add("ws/en-quad-to-hair", "".join("x" + chr(cp) for cp in range(0x2000, 0x200B)) + "x")
    add("ws/narrow-nbsp-mmsp", "10\u202fkm a\u205fb \u202f\u205f")
    add("ws/lookalikes", "a\u200bb \u200b c\u001cd\u001de\u001ef\u001fg \ufeffh\ufeff")
    add("ws/bom-start", "\ufeffstart")
    add("ws/vt-ff", "a\u000bb\u000cc \u000b\u000c")
    add("ws/space-punct", "x  !  ?   .")
    add("ws/unicode-run", " \u00a0\u3000\u2003\t \u00a0x")
    add("ws/before-newline", "a   \nb\t\n")

    # Newlines.
    add("nl/crlf", "a\r\nb\r\n")
    add("nl/cr", "a\rb\rc\r")
    add("nl/cr-cr-lf", "a\r\r\nb\r\r\n")
    add("nl/blank-lines", "a\n\n\nb\n\n")
    add("nl/space-nl-space", "a\n \nb \n \n c")
    add("nl/only", "\n\n\n")
    add("nl/crlf-only", "\r\n\r\n")
    add("nl/tab-nl", "\t\n\t\n")
    add("nl/nl-then-spaces", "a\n   b\n\tc")
    add("nl/lf-cr", "a\n\rb")

    # Emoji.
    add("emoji/zwj-family", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family")
    add("emoji/skin-tones", "\U0001F44D\U0001F3FD \U0001F44B\U0001F3FF \U0001F9D1\U0001F3FB\u200d\U0001F4BB")
    add("emoji/flags", "\U0001F1EF\U0001F1F5\U0001F1EB\U0001F1F7 \U0001F1FA\U0001F1F3 "
        "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F")
    add("emoji/keycaps", "1\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3 9\u20e3")
    add("emoji/variation-selectors", "\u2764\ufe0f \u2764 \u263a\ufe0e \u263a\ufe0f \u00a9\ufe0f")
    add("emoji/rainbow-flag", "\U0001F3F3\ufe0f\u200d\U0001F308")
    add("emoji/in-text", "I \u2764\ufe0f \U0001F355 and \U0001F363!! \U0001F600\U0001F601\U0001F602")

    # Combining marks.
    add("marks/decomposed-e", "cafe\u0301 re\u0301sume\u0301 e\u0301")
    add("marks/precomposed", "caf\u00e9 r\u00e9sum\u00e9 \u00e9")
    add("marks/zalgo", ZALGO)
    add("marks/after-digit", "1\u0301 2\u0308 3\u20dd")
    add("marks/after-space", "a \u0301b  \u0308c")
    add("marks/after-punct", ".\u0301 ,\u0327 !\u0303")
    add("marks/at-start", "\u0301abc")
    add("marks/only", "\u0301\u0302\u0303")
    add("marks/enclosing", "a\u20dd b\u20de")
    add("marks/hangul-jamo", "\u1100\u1161\u11a8 \u1112\u1161\u11ab")

    # Digits.
    for n in range(1, 21):
        add("digits/len%02d" % n, "12345678901234567890"[:n])
    add("digits/version", "v1.2.3 and 10.0.19045")
    add("digits/money", "$100,000 \u20ac1.234,56 \u00a5500")
    add("digits/decimal", "3.14159 2.71828 -0.5 +7 1e-9 6.02e23")
    add("digits/with-letters", "abc123def 4you B2B x86_64 utf8")
    add("digits/dates", "2024-01-15T10:30:00Z 12:34:56")
    add("digits/hex", "0x1F600 0b1010 0o777")
    add("digits/arabic-indic", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660 \u06f1\u06f2\u06f3\u06f4")
    add("digits/fullwidth", "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10 \uff21\uff22\uff23")
    add("digits/no-nl", "\u00bd \u00bc \u00be \u00b2 \u00b3 \u00b9 \u2460 \u2461 \u2473 \u216b \u2177 \u2182 "
        "\u3007 \u3021 \U0001D7D9\U0001D7DA")
    add("digits/mixed-categories", "1\u00bd2\u00b23\u2460456\u216b7")
    add("digits/devanagari-thai", "\u0967\u0968\u0969 \u0e51\u0e52\u0e53")
    add("digits/superscript", "x\u00b2 + y\u00b3 = z\u00bd")
    add("digits/grouped", "1,234,567,890 1 234 567 1_000_000")

    # Apostrophes.
    add("apos/s", "the cat's toy, cats' toys")
    add("apos/upper", "I'LL BE THERE, IT'S, WE'RE, THEY'VE, I'M, HE'D, DON'T")
    add("apos/contractions", "'s 't 're 've 'm 'll 'd")
    add("apos/mixed-case", "'S 'T 'Re 'rE 'VE 'Ll 'lL 'D")
    add("apos/dont", "don't won't can't shouldn't've y'all")
    add("apos/curly", "It\u2019s the cat\u2019s \u2018toy\u2019 and \u201cquotes\u201d \u201alow\u2018 \u201eGerman\u201c")
    add("apos/names", "O'Neil's d'Artagnan l'\u00e9t\u00e9 rock 'n' roll")
    add("apos/repeated", "'quoted' ''double'' '''triple'''")
    add("apos/after-space", "x 's y ' s")
    add("apos/digits", "'90s 5'11\" it's'")

    # Punctuation.
    add("punct/include", "#include <vector>\n#define X 1")
    add("punct/flags", "--flag=value -x --no-color -- ---")
    add("punct/at", "@user @@ @-mention email@example.com")
    add("punct/dotnet", ".NET .gitignore ..hidden ...and")
    add("punct/runs", "!!!wow ???what ...so ;;;x ::std ->next =>x <=>y")
    add("punct/underscore", "__init__ _private __dunder__ snake_case_name")
    add("punct/brackets", "([{<>}]) \u00abguillemets\u00bb \u3010brackets\u3011\u300cquotes\u300d")
    add("punct/fullwidth", "\uff01\uff02\uff03\uff04\uff05\uff06\uff07\uff08\uff09\uff0a\uff0b\uff0c\uff0d\uff0e"
        "\uff0f\uff1a\uff1b\uff1c\uff1d\uff1e\uff1f\uff20\uff3b\uff3c\uff3d\uff3e\uff3f\uff40\uff5b\uff5c\uff5d\uff5e")
    add("punct/cjk", "\u3002\u3001\u300c\u300d\u300e\u300f\u3010\u3011\u301c\u30fb")
    add("punct/general", "\u2010\u2011\u2012\u2013\u2014\u2015\u2016\u2017\u2020\u2021\u2022\u2026\u2030\u2032"
        "\u2033\u2039\u203a\u203c\u2047\u2048\u2049")
    add("punct/url", "https://example.org/path?q=1&r=two#frag")
    add("punct/path", "C:\\Users\\name\\file.txt /usr/local/bin")
    add("punct/math", "\u2211\u222b\u221a\u221e\u2260\u2264\u2265\u00b1\u00d7\u00f7 \u03b1+\u03b2=\u03b3")
    add("punct/currency", "$ \u20ac \u00a3 \u00a5 \u20b9 \u20bf \u00a2")
    add("punct/symbols", "\u00a9\u00ae\u2122\u2117 \u00a7\u00b6 \u00b0C \u2103")
    add("punct/letter-after-each", "".join(ch + "a" for ch in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))

    # Special-token strings of the whole DeepSeek family, as text (each tokenizer knows some).
    add("special/all-deepseek", BOS + EOS + PAD + "<image_placeholder><image><|ref|><|/ref|><|det|><|/det|>"
        "<|grounding|><|User|><|Assistant|><\uff5cUser\uff5c><\uff5cAssistant\uff5c><|EOT|>"
        "<\uff5cfim\u2581hole\uff5c><\uff5cplace\u2581holder\u2581no\u25810\uff5c>")
    add("special/vl-v1-prompt", "You are a helpful assistant.\n\nUser:<image_placeholder>What is this?\n\nAssistant:")
    add("special/vl2-prompt", "<|User|>: <image>\n<|ref|>The giraffe at the back.<|/ref|>\n\n<|Assistant|>:")
    add("special/grounding", "<|grounding|>Locate <|ref|>the cat<|/ref|><|det|>[[1,2,3,4]]<|/det|> now.")
    add("special/partials", "<|ref <image <|User| |> <\uff5cbegin\u2581of\u2581sentence <\uff5cend\u2581of\u2581sentence\uff5c "
        "\uff5c> <image_placeholder <|/det <|EOT|")
    add("special/adjacent", "<image><image><|ref|><|/ref|><|det|><|/det|>" + BOS + BOS + EOS)
    add("special/start-end", "<|User|>hello<|Assistant|>")
    add("special/spaces-newlines", " <image> \n<image>\n  <|ref|>  \n" + BOS + " \n " + EOS + "\n")
    add("special/v3-chat", BOS + "You are helpful.<\uff5cUser\uff5c>Hi<\uff5cAssistant\uff5c>Hello!" + EOS)
    add("special/v3-tools", "<\uff5ctool\u2581calls\u2581begin\uff5c><\uff5ctool\u2581call\u2581begin\uff5c>function"
        "<\uff5ctool\u2581sep\uff5c>get_weather\n```json\n{\"city\":\"Paris\"}\n```<\uff5ctool\u2581call\u2581end\uff5c>"
        "<\uff5ctool\u2581calls\u2581end\uff5c>")
    add("special/placeholders", "<\uff5cplace\u2581holder\u2581no\u25810\uff5c><\uff5cplace\u2581holder\u2581no\u2581799\uff5c> "
        "<\uff5cplace\u2581holder\u2581no\u2581800\uff5c> <\uff5cplace\u2581holder\u2581no\u258112\uff5c>")
    add("special/fim", "<\uff5cfim\u2581begin\uff5c>def f():\n<\uff5cfim\u2581hole\uff5c>\n<\uff5cfim\u2581end\uff5c>")
    add("special/eot", "done<|EOT|> <|EOT|>\n")
    add("special/lookalike", "<|User|> vs <\uff5cUser\uff5c> vs <|user|> vs < |User| > vs <||User||>")
    add("special/image-runs", "<image>" * 5 + "\n" + "<image_placeholder>" * 3)
    add("special/byte-symbols-as-text", "\u2581 \u0120 \u010a \u010d \u0109 \u0100\u0143 \u00a1\u00ac\u00ae\u00ff")

    # Code points.
    add("cp/private-use", "a\ue000b\uf8ffc\U000F0000d\U0010FFFDe")
    add("cp/unassigned", "a\u0378b\u0379c x\U000E0080y a\U0002FFFEb")
    add("cp/noncharacters", "a\ufffeb\uffffc\ufdd0d\U0001FFFEe")
    add("cp/astral-letters", "\U0001D400\U0001D41B\U0001D41C \U0001D518\U0001D52B\U0001D526 \U00010400\U00010428\U00010449 "
        "\U00010330\U00010331\U00010332 \U0001E900\U0001E922 \U000118A0")
    add("cp/unicode14", "a\U0001E290b \U0001E290")
    add("cp/unicode15", "a\U0001E4D0b a\U00011F04b a\U00031350b \U0001FAE8\U0001F6DC")
    add("cp/unicode15.1", "a\U0002EBF0b")
    add("cp/unicode16", "a\U0001E5D0b a\U00010D50b \U0001E5D0\U00010D50")
    add("cp/unicode17", "a\U00010940b")
    add("cp/controls", "a\x00b\x01c\x07d\x1b[31mred\x1b[0m\x7f")
    add("cp/c1", "a\x80b\x9fc")
    add("cp/replacement", "a\ufffdb \ufffd")
    add("cp/tags", "\U000E0001\U000E0041 x")
    add("cp/variation-supplement", "\u845b\U000E0100 \u845b")
    add("cp/max", "\U0010FFFF \U0010FFFE")
    add("cp/bmp-edges", "\ud7ff\ue000 \u0800\u07ff \uac00\ud7a3 \u4e00\u9fa5\u9fa6")

    # Long inputs (each at least 20,000 code points).
    add("long/word", [["antidisestablishmentarianism", 715]])
    rng = random.Random(20000)
    syllables = ["ka", "lo", "mi", "tra", "ven", "ost", "ur", "quel", "phi", "zen", "ab", "ing", "tion", "e", "s"]
    word = ""
    while len(word) < 20000:
        word += rng.choice(syllables)
    add("long/random-word", word[:20000])
    add("long/spaces", [["x", 1], [" ", 20000], ["y", 1]])
    add("long/digits", [["1234567890", 2000]])
    add("long/cjk", [["\u4eba\u5de5\u667a\u80fd\u6539\u53d8\u4e16\u754c\u5929\u6c14", 2000]])
    add("long/mixed", [[MIXED_PARAGRAPH, -(-20000 // len(MIXED_PARAGRAPH))]])
    return c


def join_text(t):
    return t if isinstance(t, str) else "".join(piece * count for piece, count in t)


def read_inp(path):
    with open(path, encoding="utf-8", newline="") as f:
        pieces = f.read().split(SEP)
    assert pieces[-1] == "", path
    return pieces[:-1]


def read_out(path):
    with open(path, encoding="utf-8") as f:
        return [[int(x) for x in line.split()] for line in f.read().split("\n")]


def own_token_cases(added, limit_placeholders=True):
    """Cases built from a tokenizer's own added tokens: alone, inside text, adjacent, partial."""
    keep = ("\u25810\uff5c>", "\u25811\uff5c>", "\u2581799\uff5c>")  # of DeepSeek-V3's 800 place-holders
    cases = []
    for t in added:
        content = t["content"]
        if limit_placeholders and "place\u2581holder" in content and not content.endswith(keep):
            continue
        name = "own/%d" % t["id"]
        cases.append((name + "/alone", content))
        text = "a%sb %s \n%s\n%s%s" % (content, content, content, content, content)
        if len(content) > 1:
            text += " " + content[:-1] + " " + content[1:] + " x" + content[:-1] + content
        cases.append((name + "/context", text))
    return cases


# ----------------------------------------------------------------------------------------------
# Encoding and writing
# ----------------------------------------------------------------------------------------------

def prefix_function(s):
    pi = [0] * len(s)
    for i in range(1, len(s)):
        k = pi[i - 1]
        while k and s[i] != s[k]:
            k = pi[k - 1]
        if s[i] == s[k]:
            k += 1
        pi[i] = k
    return pi


def compress(seq):
    """A list or string as [[chunk, count], ...]: a head, one chunk repeated, a tail (the smallest
    such form found)."""
    size_of = lambda parts: len(json.dumps(parts, separators=(",", ":"), ensure_ascii=False))
    best = [[seq, 1]]
    best_size = size_of(best)
    for o in range(0, min(len(seq), 32)):
        rest = seq[o:]
        pi = prefix_function(rest)
        cover, period = 0, 0
        for m in range(1, len(rest) + 1):
            p = m - pi[m - 1]
            if m >= 2 * p and (m // p) * p > cover:
                cover, period = (m // p) * p, p
        if not period:
            continue
        parts = ([[seq[:o], 1]] if o else []) + [[rest[:period], cover // period]]
        if cover < len(rest):
            parts.append([rest[cover:], 1])
        size = size_of(parts)
        if size < best_size:
            best, best_size = parts, size
    return best


def expand(parts):
    out = []
    for chunk, n in parts:
        out += list(chunk) * n
    return out


def encode_case(tok, source, name, text):
    full = join_text(text)
    ids = tok.encode(full, add_special_tokens=False).ids
    out = {"source": source, "name": name, "text": text,
           "ids": ids if isinstance(text, str) else compress(ids)}
    if not isinstance(text, str):
        assert expand(out["ids"]) == ids
    for key, skip in (("decoded", False), ("decoded_skip_special", True)):
        d = tok.decode(ids, skip_special_tokens=skip)
        if isinstance(text, str):
            out[key] = d
        else:
            out[key] = text if d == full else compress(d)
            assert "".join(expand(out[key])) == d
    return out


def write_fixture(path, header, cases):
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names in " + path
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n")
        for k, v in header.items():
            f.write("%s: %s,\n" % (json.dumps(k), json.dumps(v, ensure_ascii=False)))
        f.write('"cases": [\n')
        for i, c in enumerate(cases):
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")))
            f.write(",\n" if i + 1 < len(cases) else "\n")
        f.write("]\n}\n")


def chkhsh(ids):
    return hashlib.sha256(str(ids).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# transformers (child process)
# ----------------------------------------------------------------------------------------------

def transformers_worker():
    """Reads {"folder", "texts"} on stdin, writes ids with and without special tokens."""
    import transformers
    from transformers import AutoTokenizer
    req = json.load(sys.stdin)
    if transformers.__version__ != TRANSFORMERS_VERSION:
        raise SystemExit("transformers %s found, %s needed" % (transformers.__version__, TRANSFORMERS_VERSION))
    tok = AutoTokenizer.from_pretrained(req["folder"])
    res = {"version": transformers.__version__, "class": type(tok).__name__,
           "add_bos_token": getattr(tok, "add_bos_token", None),
           "with": [tok.encode(t, add_special_tokens=True) for t in req["texts"]],
           "without": [tok.encode(t, add_special_tokens=False) for t in req["texts"]]}
    json.dump(res, sys.stdout)


def transformers_ids(python, folder, texts):
    p = subprocess.run([python, os.path.abspath(__file__), "--transformers-worker"],
                       input=json.dumps({"folder": folder, "texts": texts}), capture_output=True,
                       text=True, encoding="utf-8")
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "exit %d" % p.returncode
    return json.loads(p.stdout), None


ADD_SPECIAL_CASES = ["llama.cpp/02", "llama.cpp/11", "llama.cpp/03", "prose/en", "prose/zh", "ws/leading",
                     "nl/crlf", "special/v3-chat", "special/vl2-prompt", "special/all-deepseek",
                     "special/spaces-newlines"]


# ----------------------------------------------------------------------------------------------
# Real tokenizers
# ----------------------------------------------------------------------------------------------

def real_fixtures(args, summary):
    from tokenizers import Tokenizer
    tokdir = os.path.join(shared_dir(), "tokenizers")
    inp = read_inp(os.path.join(tokdir, "deepseek-llm", "ggml-vocab-deepseek-llm.gguf.inp"))
    extra = read_inp(os.path.join(tokdir, "deepseek-llm", "vl-extra.inp"))
    assert len(inp) == 46 and len(extra) == 31, (len(inp), len(extra))
    corp = corpus()
    with open(os.path.join(tokdir, "common", "chktxt.txt"), encoding="utf-8", newline="") as f:
        chktxt = f.read()
    with open(os.path.join(tokdir, "common", "chkhsh.json"), encoding="utf-8") as f:
        hashes = json.load(f)
    with open(os.path.join(tokdir, "common", "reference-vectors.json"), encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    chk_base = {"deepseek-llm": "deepseek-llm", "deepseek-vl-v1": "deepseek-llm", "deepseek-vl2-small": "deepseek-llm",
                "deepseek-coder": "deepseek-coder", "deepseek-v3": "deepseek-v3", "deepseek-vl2": "deepseek-v3"}

    for name in REAL:
        path = os.path.join(tokdir, name, "tokenizer.json")
        tok = Tokenizer.from_file(path)
        with open(path, encoding="utf-8") as f:
            added = json.load(f)["added_tokens"]
        cases = [encode_case(tok, "llama.cpp", "llama.cpp/%02d" % i, t) for i, t in enumerate(inp)]
        cases += [encode_case(tok, "vl-extra", "vl-extra/%02d" % i, t) for i, t in enumerate(extra)]
        cases += [encode_case(tok, "corpus", n, t) for n, t in corp]
        cases += [encode_case(tok, "added-tokens", n, t) for n, t in own_token_cases(added)]
        notes = []

        # REAL llama.cpp expectations; the derived DeepSeek-LLM tokenizers are compared, not checked.
        base = {"deepseek-vl-v1": "deepseek-llm", "deepseek-vl2-small": "deepseek-llm"}.get(name, name)
        out_path = os.path.join(tokdir, base, "ggml-vocab-%s.gguf.out" % base)
        if os.path.exists(out_path):
            want = read_out(out_path)[:46]
            got = [c["ids"] for c in cases[:46]]
            if base == name:
                assert got == want, name + ": HF differs from the REAL llama.cpp .out"
                notes.append("46/46 REAL llama.cpp cases")
            else:
                bad = [i for i in range(46) if got[i] != want[i]]
                notes.append("%s llama.cpp .out: %d/46 equal%s" % (base, 46 - len(bad), " (differ: %s)" % bad if bad else ""))
        # GENERATED expectations: report only.
        for fname, first, count in (("vl-extra.out", 46, 31), ("llamacpp-tests.out", 0, 46)):
            out_path = os.path.join(tokdir, name, fname)
            if os.path.exists(out_path):
                want = read_out(out_path)
                bad = [i for i in range(count) if cases[first + i]["ids"] != want[i]]
                notes.append("%s: %d/%d equal%s" % (fname, count - len(bad), count,
                                                    "" if not bad else " (differ: %s)" % bad))
        # REAL vectors.
        for v in vectors:
            base = v["tokenizer"]
            if base == name or (base == "deepseek-v3" and name == "deepseek-vl2"):
                ids = v["ids"]
                if v.get("add_bos"):
                    ids = ids[1:]
                if v.get("eos_appended"):
                    ids = ids[:-1]
                got = tok.encode(v["text"], add_special_tokens=False).ids
                assert got == ids, (name, v["text"][:40])
                notes.append("reference vector %r ok" % v["text"][:20])
        # REAL chkhsh (BOS + ids of CHK_TXT).
        h = hashes[chk_base[name]]
        assert chkhsh([h["bos_id"]] + tok.encode(chktxt, add_special_tokens=False).ids) == h["chkhsh"], name
        notes.append("chkhsh %s ok" % chk_base[name])

        header = {"about": "Expected output of Hugging Face tokenizers %s for %s; written by "
                           "tools/reference/tokenizer_cases.py." % (TOKENIZERS_VERSION, name),
                  "tokenizer": "tokenizers/%s/tokenizer.json" % name,
                  "tokenizer_root": "shared_data",
                  "tokenizers_version": TOKENIZERS_VERSION}

        # BOS/EOS as transformers applies them.
        folder = os.path.join(tokdir, name)
        if os.path.exists(os.path.join(folder, "tokenizer_config.json")):
            sel = [c for c in cases if c["name"] in ADD_SPECIAL_CASES]
            assert len(sel) == len(ADD_SPECIAL_CASES)
            # The last text is CHK_TXT: llama.cpp's chkhsh is over AutoTokenizer.encode(CHK_TXT).
            res, why = transformers_ids(args.transformers_python, folder,
                                        [join_text(c["text"]) for c in sel] + [chktxt])
            if res is None:
                print("transformers could not load %s (%s): no ids_add_special written" % (name, why))
                notes.append("transformers: skipped (%s)" % why)
            else:
                for c, w, wo in zip(sel, res["with"], res["without"]):
                    assert wo == c["ids"], (name, c["name"], "transformers and tokenizers disagree")
                    c["ids_add_special"] = w
                assert chkhsh(res["with"][-1]) == h["chkhsh"], name + " chkhsh via transformers"
                header["transformers_version"] = res["version"]
                notes.append("transformers %s %s add_bos_token=%s: %d cases, chkhsh ok" % (
                    res["version"], res["class"], res["add_bos_token"], len(sel)))

        path_out = os.path.join(OUT, name + ".json")
        write_fixture(path_out, header, cases)
        summary.append((path_out, len(cases), notes))


# ----------------------------------------------------------------------------------------------
# Tiny tokenizers
# ----------------------------------------------------------------------------------------------

def flag_grid():
    """Every combination of special, normalized, lstrip, rstrip, single_word: "<f00>".."<f31>"."""
    grid = []
    for i in range(32):
        grid.append({"content": "<f%02d>" % i, "special": bool(i & 16), "normalized": bool(i & 8),
                     "lstrip": bool(i & 4), "rstrip": bool(i & 2), "single_word": bool(i & 1)})
    return grid


def tiny_added_tokens(kind):
    T = lambda content, special=False, normalized=True, lstrip=False, rstrip=False, single_word=False: {
        "content": content, "special": special, "normalized": normalized, "lstrip": lstrip,
        "rstrip": rstrip, "single_word": single_word}
    toks = []
    if kind == "tiny-deepseek-v3":
        # Already vocabulary entries 0..2 (trainer special tokens), as in DeepSeek-V3.
        toks += [T(BOS, special=True, normalized=False), T(EOS, special=True, normalized=False),
                 T(PAD, special=True, normalized=False)]
    else:
        toks += [T(BOS, special=True, normalized=False), T(EOS, special=True, normalized=False)]
    if kind == "tiny-deepseek-llm":
        # DeepSeek-LLM's byte-level symbols that are added tokens (non-special, normalized).
        toks += [T(ch) for ch in LATIN1_ADDED]
    toks += [T(s, special=True, normalized=False) for s in
             ("<image>", "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|User|>", "<|Assistant|>")]
    toks += [T("<a>", special=True, normalized=False), T("<b>", special=True, normalized=False),
             T("<a><b>", special=True, normalized=False),
             T("xy"), T("xyz"), T("yzw", normalized=False),
             T("dax", single_word=True), T("axe"),
             T("gnu", normalized=False, single_word=True, lstrip=True, rstrip=True),
             T("world"),
             T("\u6771\u4eac"), T("na\u00efve"), T("cr\u00e8me br\u00fbl\u00e9e"), T("New York"),
             T(" <sp>"),
             T("<|EOT|>", special=True, normalized=True)]
    toks += flag_grid()
    return toks


def tiny_flag_cases(added):
    c = []
    add = lambda name, text: c.append((name, text))
    add("flags/overlap-special", "<a><b> <a><a><b> <b><a> <a><b><b> <a<b>")
    add("flags/overlap-plain", "xy xyz xyzz wxyz xyxyz xxyz")
    add("flags/cross-pass", "xyzw wxyzw xyzxyzw yzw")
    add("flags/single-word-dax", "dax daxs sdax dax_ _dax dax9 9dax dax. .dax (dax) \u00e9dax dax\u00e9 "
        "dax\u0301 dax\u200d dax\u00b2 \u00b2dax dax\u216b dax\u3000dax \u4e00dax \u0661dax dax")
    add("flags/single-word-consumes", "bdaxe daxe edax axe baxe")
    add("flags/single-word-strip-gnu", "a  gnu  b x gnu\tgnu y gnus  gnu\n\ngnu_ hotgnu \u00a0gnu\u00a0")
    add("flags/vocab-token", "Hello world worlds underworld world!")
    add("flags/non-ascii", "\u6771\u4eac\u90fd \u6771\u4eac na\u00efve na\u00efvet\u00e9 cr\u00e8me br\u00fbl\u00e9e")
    add("flags/with-space", "New York New  York NewYork New York! New Yorker")
    add("flags/leading-space-token", "a <sp> b<sp> <sp><sp>  <sp>")
    # <f10> (rstrip) and " <sp>" are both normalized=true, so they are matched in the same pass and
    # the rstrip overlaps the next match; <f02> is normalized=false and eats the space first.
    add("flags/rstrip-into-next", "<f10> <sp> <f10>  <sp>x <f02> <sp> <f06> <f06>")
    add("flags/lstrip-after-match", "<f04><f04> <f04>  <f04> [x] <f04>")
    add("flags/lstrip-after-rstrip", "<f02>   <f04> <f06>  <f06>")
    add("flags/strip-unicode-ws", "x\u3000\u00a0<f06>\u2028\u0085y \u200b<f06>\u200b \ufeff<f04>")
    add("flags/strip-newlines", "a\n\n<f04>\n\nb\r\n<f02>\r\n c")
    add("flags/eot-normalized-special", "done<|EOT|><|EOT|> <|EOT|>\n")
    add("flags/prefix-space-pieces", "<image>hello<image> world<image>\tx<image>\ny")
    add("flags/all-at-edges", "<f31>x<f31>")
    for t in added:
        if t["content"].startswith("<f"):
            s = t["content"]
            add("flags/grid/%s" % s[1:-1],
                "x@y @ z  @  w\t@\n@@_@_ \u00e9@\u00e9 1@2 .@. \u3000@\u00a0 @".replace("@", s))
    return c


def gen_training_text(seed):
    """Deterministic training text: the corpus, the llama.cpp and vl-extra inputs, generated prose,
    code and numbers."""
    rng = random.Random(seed)
    words = ("the of and to in is was that for it with as his on be at by had are but from or have an they "
             "which one you were her all she there would their we him been has when who will more no if out "
             "so said what up its about into than them can only other new some could time these two may then "
             "do first any my now such like our over man me even most made after also did many before must "
             "through back years where much your way well down should because each just those people how too "
             "little state good very make world still own see men work long get here between both life being "
             "under never day same another know while last might us great old year off come since against go "
             "came right used take three model token image text hello Hello World data value return function "
             "class import print self list dict string number vision language assistant user question answer "
             "describe picture color red green blue cat dog house tree water city river mountain").split()
    out = []
    for _ in range(12000):
        n = rng.randint(3, 14)
        s = " ".join(rng.choice(words) for _ in range(n))
        if rng.random() < 0.3:
            s = s[0].upper() + s[1:]
        r = rng.random()
        if r < 0.15:
            s += " %d" % rng.randint(0, 10 ** rng.randint(1, 7))
        elif r < 0.25:
            s += " %d.%d" % (rng.randint(0, 999), rng.randint(0, 99))
        s += rng.choice([".", ".", ".", "!", "?", ",", ":", ";", "...", "\n", "\n\n"])
        out.append(s)
    # "world" after a newline is a piece of its own for all three pre-tokenizers, so it becomes a
    # vocabulary entry (the added token "world" must take that id).
    out += ["%s\nworld\n" % rng.choice(words) for _ in range(400)]
    for _ in range(1500):
        ind = rng.choice(["", "    ", "        ", "\t", "\t\t", "  "])
        name = rng.choice(["x", "y", "value", "self.data", "result", "i", "items[0]", "count"])
        out.append(rng.choice([
            "%sdef %s(%s):\n" % (ind, rng.choice(["f", "main", "run", "get_value"]), name),
            "%sreturn %s + %d\n" % (ind, name, rng.randint(0, 99)),
            "%sif %s == %d:\n" % (ind, name, rng.randint(0, 9)),
            "%sfor (int i = 0; i < %d; ++i) {\n" % (ind, rng.randint(1, 64)),
            "%s%s = [%d, %d, %d]\n" % (ind, name, rng.randint(0, 9), rng.randint(0, 99), rng.randint(0, 999)),
            "%s#include <%s>\n" % (ind, rng.choice(["vector", "string", "map", "cstdio"])),
            "%s\"%s\": %d,\n" % (ind, rng.choice(words), rng.randint(0, 1000)),
        ]))
    tokdir = os.path.join(shared_dir(), "tokenizers")
    inp = read_inp(os.path.join(tokdir, "deepseek-llm", "ggml-vocab-deepseek-llm.gguf.inp"))
    extra = read_inp(os.path.join(tokdir, "deepseek-llm", "vl-extra.inp"))
    short = [join_text(t) for n, t in corpus() if not n.startswith("long/")]
    for _ in range(20):
        out += short + inp + extra
    rng.shuffle(out)
    return out


TINY = [
    # name, pre-tokenizer source, vocab size, normalizer, merges as "a b" strings
    ("tiny-deepseek-llm", "deepseek-llm", 2000, {"type": "Sequence", "normalizers": []}, True),
    ("tiny-deepseek-v3", "deepseek-v3", 2500, {"type": "Sequence", "normalizers": []}, True),
    ("tiny-gpt2", None, 1500, None, False),
]


def build_tiny(name, pre_from, vocab_size, normalizer, string_merges, text):
    from tokenizers import AddedToken, Tokenizer, pre_tokenizers, trainers
    tokdir = os.path.join(shared_dir(), "tokenizers")
    if pre_from:
        with open(os.path.join(tokdir, pre_from, "tokenizer.json"), encoding="utf-8") as f:
            pre = json.load(f)["pre_tokenizer"]
    else:
        pre = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    skeleton = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": normalizer, "pre_tokenizer": pre,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {}, "merges": []},
    }
    tok = Tokenizer.from_str(json.dumps(skeleton))
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if name == "tiny-deepseek-llm":
        # Like DeepSeek-LLM: the symbols of bytes that never occur in UTF-8 are not in the vocabulary
        # (they become added tokens below).
        alphabet = [a for a in alphabet if a not in LATIN1_ADDED]
    specials = [BOS, EOS, PAD] if name == "tiny-deepseek-v3" else []
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=specials, initial_alphabet=sorted(alphabet))
    tok.train_from_iterator(text, trainer=trainer)
    spec = tiny_added_tokens(name)
    assert tok.token_to_id("world") is not None, "'world' must be a vocabulary token"
    shared = {t["content"] for t in spec if tok.token_to_id(t["content"]) is not None}
    assert shared == {"world"} | set(specials), "only these added tokens may be vocabulary entries: %s" % shared
    tok.add_tokens([AddedToken(t["content"], single_word=t["single_word"], lstrip=t["lstrip"],
                               rstrip=t["rstrip"], normalized=t["normalized"], special=t["special"])
                    for t in spec])
    j = json.loads(tok.to_str())
    # Check that every flag came through.
    by_content = {a["content"]: a for a in j["added_tokens"]}
    for t in spec:
        a = by_content[t["content"]]
        assert all(a[k] == t[k] for k in t), (t, a)
    if string_merges:
        # The form of the real DeepSeek files; tiny-gpt2 keeps the [left, right] form.
        j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "tokenizer.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(j, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return path, j


def tiny_fixtures(summary):
    from tokenizers import Tokenizer
    tokdir = os.path.join(shared_dir(), "tokenizers")
    inp = read_inp(os.path.join(tokdir, "deepseek-llm", "ggml-vocab-deepseek-llm.gguf.inp"))
    extra = read_inp(os.path.join(tokdir, "deepseek-llm", "vl-extra.inp"))
    text = gen_training_text(20250611)
    corp = corpus()
    for name, pre_from, vocab_size, normalizer, string_merges in TINY:
        path, j = build_tiny(name, pre_from, vocab_size, normalizer, string_merges, text)
        tok = Tokenizer.from_file(path)  # everything below comes from the file as committed
        added = j["added_tokens"]
        cases = [encode_case(tok, "llama.cpp", "llama.cpp/%02d" % i, t) for i, t in enumerate(inp)]
        cases += [encode_case(tok, "vl-extra", "vl-extra/%02d" % i, t) for i, t in enumerate(extra)]
        cases += [encode_case(tok, "corpus", n, t) for n, t in corp]
        cases += [encode_case(tok, "added-tokens", n, t) for n, t in own_token_cases(added, False)]
        cases += [encode_case(tok, "added-tokens", n, t) for n, t in tiny_flag_cases(added)]
        header = {"about": "Expected output of Hugging Face tokenizers %s for %s, a small tokenizer trained by "
                           "tools/reference/tokenizer_cases.py (pre-tokenizer: %s)." % (
                               TOKENIZERS_VERSION, name,
                               "copied from %s" % pre_from if pre_from else "ByteLevel GPT-2 regex, add_prefix_space"),
                  "tokenizer": "%s/tokenizer.json" % name,
                  "tokenizer_root": "fixture_dir",
                  "tokenizers_version": TOKENIZERS_VERSION}
        out = os.path.join(OUT, name + ".json")
        write_fixture(out, header, cases)
        summary.append((out, len(cases), ["vocab %d, merges %d, added %d" % (
            len(j["model"]["vocab"]), len(j["model"]["merges"]), len(added))]))
        summary.append((path, None, []))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--transformers-python", default=os.environ.get("DSVL_TRANSFORMERS_PYTHON"),
                    help="interpreter with transformers %s (or $DSVL_TRANSFORMERS_PYTHON)" % TRANSFORMERS_VERSION)
    ap.add_argument("--transformers-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.transformers_worker:
        return transformers_worker()
    import tokenizers
    if tokenizers.__version__ != TOKENIZERS_VERSION:
        raise SystemExit("tokenizers %s found, %s needed" % (tokenizers.__version__, TOKENIZERS_VERSION))
    if not args.transformers_python:
        raise SystemExit("--transformers-python is required (see the docstring)")
    if not os.path.isdir(os.path.join(shared_dir(), "tokenizers")):
        raise SystemExit("shared data folder not found: " + shared_dir())
    os.makedirs(OUT, exist_ok=True)
    summary = []
    real_fixtures(args, summary)
    tiny_fixtures(summary)
    total = 0
    for path, n, notes in summary:
        size = os.path.getsize(path)
        total += size
        print("wrote %s: %s%d bytes" % (os.path.relpath(path, ROOT), "%d cases, " % n if n else "", size))
        for note in notes:
            print("    " + note)
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
