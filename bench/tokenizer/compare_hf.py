#!/usr/bin/env python3
"""Tokenizer throughput and load time, dsvl vs Hugging Face `tokenizers`, on the same corpus.

    pip install tokenizers==0.23.3
    python3 bench/tokenizer/compare_hf.py --bench build/bench/dsvl-bench-tokenizer [--rounds 5]

Both run single-threaded (RAYON_NUM_THREADS=1 for Hugging Face, whose encode_batch is its fastest
single-thread path) over the same lines, in interleaved rounds; each round gives one figure per
tool (the median of its samples) and one ratio. The report is the median over rounds with
[min-max]. The token counts of both must agree, or the script stops.

The corpus (about 1.6 MB, written to --corpus) is English prose (Debian's common licences),
Python source (the standard library), and the multilingual corpus of the tokenizer fixtures
(prose in 14 languages, emoji, digits, whitespace runs), one text per line.
"""
import argparse
import glob
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
import tokenizers  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def shared_data():
    return pathlib.Path(os.environ.get("DSVL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def build_corpus(path):
    parts = []
    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(f):
            parts.append(open(f, encoding="utf-8", errors="replace").read())
    code, size = [], 0
    for f in sorted(glob.glob("/usr/lib/python3*/*.py")):
        text = open(f, encoding="utf-8", errors="replace").read()
        code.append(text)
        size += len(text)
        if size > 1_000_000:
            break
    parts += code
    fixture = json.load(open(ROOT / "tests/data/tokenizer/deepseek-v3.json", encoding="utf-8"))
    multilingual = [c["text"] for c in fixture["cases"]
                    if c["source"] == "corpus" and isinstance(c["text"], str)]
    parts += multilingual * 10
    lines = [line for p in parts for line in p.splitlines() if line.strip()]
    pathlib.Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def hf_round(tok_path, lines, samples):
    t0 = time.perf_counter()
    tok = tokenizers.Tokenizer.from_file(str(tok_path))
    load = time.perf_counter() - t0
    data = [line + "\n" for line in lines]
    nbytes = sum(len(s.encode()) for s in data)
    rates, tokens = [], 0
    for _ in range(samples):
        t0 = time.perf_counter()
        tokens = sum(len(e.ids) for e in tok.encode_batch(data, add_special_tokens=False))
        rates.append(nbytes / (time.perf_counter() - t0) / 1e6)
    return {"load_s": load, "mb_per_s": statistics.median(rates), "tokens": tokens, "bytes": nbytes}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path of dsvl-bench-tokenizer")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--corpus", default="/tmp/dsvl-tokenizer-corpus.txt")
    ap.add_argument("--tokenizers", default="deepseek-vl-v1,deepseek-vl2")
    args = ap.parse_args()
    lines = build_corpus(args.corpus)
    nbytes = os.path.getsize(args.corpus)
    print(f"corpus: {len(lines)} lines, {nbytes / 1e6:.2f} MB; tokenizers {tokenizers.__version__}; "
          f"{args.rounds} interleaved rounds")
    print()
    print("| tokenizer | dsvl MB/s | HF MB/s | dsvl / HF | dsvl load s | HF load s |")
    print("|---|---|---|---|---|---|")
    for name in args.tokenizers.split(","):
        path = shared_data() / "tokenizers" / name / "tokenizer.json"
        ours, theirs, ratios = [], [], []
        for _ in range(args.rounds):
            out = subprocess.run([args.bench, str(path), args.corpus, str(args.samples)],
                                 check=True, capture_output=True, text=True).stdout
            o = json.loads(out)
            h = hf_round(path, lines, args.samples)
            if o["tokens"] != h["tokens"]:
                sys.exit(f"{name}: token counts differ: dsvl {o['tokens']}, HF {h['tokens']}")
            ours.append(o)
            theirs.append(h)
            ratios.append(o["mb_per_s"] / h["mb_per_s"])

        def fmt(values):
            return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"
        print(f"| {name} | {fmt([o['mb_per_s'] for o in ours])} | {fmt([h['mb_per_s'] for h in theirs])}"
              f" | {fmt(ratios)}x | {fmt([o['load_s'] for o in ours])} | {fmt([h['load_s'] for h in theirs])} |")


if __name__ == "__main__":
    main()
