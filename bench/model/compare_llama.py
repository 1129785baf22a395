#!/usr/bin/env python3
"""DeepSeek-VL and DeepSeek-VL2 end to end, dsvl vs llama.cpp on the same language-model shapes and dtype.

    build/examples/dsvl random-model --preset 1.3b --out /data/vl-1.3b \\
        --tokenizer ../shared/data/tokenizers/deepseek-vl-v1/tokenizer.json
    python3 bench/model/compare_llama.py --dsvl build/examples/dsvl --model /data/vl-1.3b \\
        --llama-bench LLAMA/build/bin/llama-bench --gguf dsllm-1.3b-BF16.gguf [--rounds 3] [--threads 1,2] \
        [--weights q8|q4] [--kv-cache bf16] [--llama-batched-bench LLAMA/build/bin/llama-batched-bench]

dsvl: `dsvl run --raw --ignore-eos` on a random-weight model directory of the released shape (one
image and a raw prompt: for DeepSeek-VL BOS + 576 image tokens + 31 text tokens = 608 tokens; for
DeepSeek-VL2 a 640x480 image, tiled 2x2, so BOS + 1023 image tokens + 31 text tokens = 1055 tokens;
32 new tokens, greedy; the KV cache f32 unless `--kv-cache bf16`), which reports image-encode ms,
prefill tokens/s (the language model over the prompt rows), decode tokens/s (the 31 steps after
the first token) and the KV cache per token, and /usr/bin/time's peak RSS.
llama.cpp: `llama-bench -p T -n 0` and `llama-bench -p 0 -n 32 -d 0,T` (both `-ub T -r 1 -fa off`)
on a GGUF of the same language-model shape and dtype, T the prompt length above (ppT: prefill of
T tokens in one batch; tg32 @ dT: 32 tokens decoded after a context of T tokens, so its attention
reads as long a cache as dsvl's decode, which follows the prompt: the decode ratio is taken
against it; tg32 @ d0, from an empty context, is reported beside it). Flash attention off: the
faster setting for llama.cpp's CPU decode at this depth where we measured it. llama.cpp has no DeepSeek-VL vision towers: its figures are the language model's.
A llama-bench without the `-d` option (older builds) decodes from an empty context only. With
`--llama-batched-bench` (llama.cpp's `llama-batched-bench`, which has been there since 2023),
llama.cpp's ppT and its decode after the prompt come from one run of
`llama-batched-bench -npp T -ntg 32 -npl 1 -b T -ub T` instead (S_PP and S_TG: the 32 tokens are
decoded after the T prompt tokens, as dsvl's are); llama-bench then only gives tg32 @ d0. Without
either, the decode ratio is taken against tg32 @ d0, which reads a shorter cache than dsvl's
decode (a ratio lower than the one at equal depth), and the report says so.

Rounds interleave the two tools at each thread count. The report gives, per thread count, the
median over rounds [min-max] of each figure and of the per-round ratio dsvl / llama.cpp (> 1:
dsvl is faster).
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# 31 tokens after the image tag with the DeepSeek-LLM and the DeepSeek-VL2 tokenizers (checked at
# run time through the prompt length).
TEXT = ("Describe this image in detail, including the colours, the shapes and their positions, "
        "and say what it might show. Mention anything unusual about it, please.")
# family: (image tag, image, prompt tokens)
FAMILIES = {
    "multi_modality": ("<image_placeholder>", ROOT / "tests" / "data" / "deepseek_vl" / "image.png", 608),
    "deepseek_vl_v2": ("<image>", None, 1055),
}


def png_640x480(path):
    """A 640x480 RGB gradient (DeepSeek-VL2 tiles it 2x2), written with zlib alone."""
    import struct
    import zlib
    w, h = 640, 480
    rows = b"".join(b"\0" + bytes(((x * 7 + y * 3) % 256, (x * y) % 256, (x + 2 * y) % 256)[c]
                                   for x in range(w) for c in range(3)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                     chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def run_dsvl(args, threads):
    env = dict(os.environ, DSVL_NUM_THREADS=str(threads))
    tag, image, _ = FAMILIES[args.family]
    cmd = ["/usr/bin/time", "-v", args.dsvl, "run", "--model", args.model, "--image", str(image), "--raw",
           "--prompt", tag + TEXT, "--max-new-tokens", "32", "--ignore-eos", "--weights", args.weights, "--kv-cache", args.kv_cache]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"dsvl failed:\n{p.stderr}")
    m = re.search(r"image encode (\d+) ms .* prefill (\d+) tokens in [\d.]+ s \(([\d.]+) tokens/s\) \| "
                  r"decode (\d+) tokens in [\d.]+ s \(([\d.]+) tokens/s\) \| KV cache ([\d.]+) KiB", p.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    if not m or not rss:
        sys.exit(f"cannot read dsvl's report:\n{p.stderr}")
    if int(m.group(2)) != FAMILIES[args.family][2]:
        print(f"note: the prompt has {m.group(2)} tokens (this tokenizer), not {FAMILIES[args.family][2]}; "
              f"llama-bench prefills as many", file=sys.stderr)
        FAMILIES[args.family] = FAMILIES[args.family][:2] + (int(m.group(2)),)
    return {"encode_ms": float(m.group(1)), "pp": float(m.group(3)), "tg": float(m.group(5)),
            "kv_kib": float(m.group(6)), "rss_gb": int(rss.group(1)) / 1e6}


def llama_bench_options(path):
    """What this llama-bench accepts: decode after a context (-d) and how flash attention is switched off."""
    p = subprocess.run([path, "--help"], capture_output=True, text=True)
    text = p.stdout + p.stderr
    return {"depth": "--n-depth" in text, "fa_off": "0" if "--flash-attn <0|1>" in text else "off"}


def run_llama(args, threads):
    T = FAMILIES[args.family][2]
    base = ["/usr/bin/time", "-v", args.llama_bench, "-m", args.gguf, "-t", str(threads), "-ub", str(T), "-r", "1",
            "-fa", args.llama_options["fa_off"], "-o", "json"]
    out = {"rss_gb": 0.0}
    # ppT from an empty context; tg32 from an empty context and after a context of T tokens (-d, or
    # llama-batched-bench), as dsvl's decode follows its prompt.
    decode = ["-p", "0", "-n", "32"] + (["-d", f"0,{T}"] if args.llama_options["depth"] else [])
    batched = args.llama_batched_bench and not args.llama_options["depth"]
    for extra in ([decode] if batched else [["-p", str(T), "-n", "0"], decode]):
        p = subprocess.run(base + extra, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"llama-bench failed:\n{p.stderr}")
        for row in json.loads(p.stdout):
            key = "pp" if row["n_prompt"] > 0 else ("tg" if row.get("n_depth", 0) == T else "tg_d0")
            out[key] = row["avg_ts"]
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        out["rss_gb"] = max(out["rss_gb"], int(rss.group(1)) / 1e6 if rss else float("nan"))
    if batched:
        # ppT and tg32 after the T prompt tokens from one llama-batched-bench run.
        p = subprocess.run(["/usr/bin/time", "-v", args.llama_batched_bench, "-m", args.gguf, "-t", str(threads),
                            "-c", str(T + 32), "-b", str(T), "-ub", str(T), "-npp", str(T), "-ntg", "32", "-npl", "1",
                            "--output-format", "jsonl"], capture_output=True, text=True)
        rows = [json.loads(line) for line in (p.stdout + p.stderr).splitlines() if line.startswith("{")]
        if p.returncode != 0 or len(rows) != 1:
            sys.exit(f"llama-batched-bench failed:\n{p.stdout}{p.stderr}")
        out["pp"], out["tg"] = rows[0]["speed_pp"], rows[0]["speed_tg"]
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        out["rss_gb"] = max(out["rss_gb"], int(rss.group(1)) / 1e6 if rss else float("nan"))
    # Without either the decode ratio falls back to the decode from an empty context.
    out.setdefault("tg", out["tg_d0"])
    return out


def spread(values):
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsvl", required=True)
    ap.add_argument("--model", required=True, help="dsvl model directory (dsvl random-model)")
    ap.add_argument("--weights", default="auto", help="dsvl run --weights")
    ap.add_argument("--kv-cache", default="f32", help="dsvl run --kv-cache (llama.cpp's cache is f16 by default)")
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--llama-batched-bench", help="llama-batched-bench, for ppT and the decode after the prompt "
                    "when llama-bench has no -d")
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    args.llama_options = llama_bench_options(args.llama_bench)
    args.family = json.loads((pathlib.Path(args.model) / "config.json").read_text())["model_type"]
    if args.family not in FAMILIES:
        sys.exit(f"{args.model}: model_type {args.family} is neither DeepSeek-VL nor DeepSeek-VL2")
    if FAMILIES[args.family][1] is None:
        import tempfile
        image = pathlib.Path(tempfile.mkdtemp()) / "640x480.png"
        png_640x480(image)
        FAMILIES[args.family] = (FAMILIES[args.family][0], image, FAMILIES[args.family][2])
    # Warm the page cache for both.
    for f in list(pathlib.Path(args.model).glob("*.safetensors")) + [pathlib.Path(args.gguf)]:
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    results = {t: [] for t in threads}
    for r in range(args.rounds):
        for t in threads:
            d = run_dsvl(args, t)
            l = run_llama(args, t)
            results[t].append((d, l))
            print(f"round {r + 1} threads {t}: dsvl {d}  llama.cpp {l}", file=sys.stderr, flush=True)
    T = FAMILIES[args.family][2]
    if not args.llama_options["depth"] and args.llama_batched_bench:
        print(f"This llama-bench has no -d: llama.cpp's pp{T} and tg32 @ d{T} are llama-batched-bench's S_PP and "
              f"S_TG (-npp {T} -ntg 32 -npl 1).")
    elif not args.llama_options["depth"]:
        print(f"This llama-bench has no -d: its decode is from an empty context, and the decode ratio is "
              f"taken against that (the tg32 @ d{T} column repeats tg32 @ d0).")
    print(f"| threads | dsvl image encode ms | dsvl prefill tok/s | llama.cpp pp{T} tok/s | prefill ratio | "
          f"dsvl decode tok/s | llama.cpp tg32 @ d{T} tok/s | decode ratio | llama.cpp tg32 @ d0 tok/s | "
          f"dsvl KV cache KiB/token | peak RSS dsvl / llama.cpp GB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in threads:
        rs = results[t]
        print(f"| {t} | {spread([d['encode_ms'] for d, _ in rs])} | {spread([d['pp'] for d, _ in rs])} | "
              f"{spread([l['pp'] for _, l in rs])} | {spread([d['pp'] / l['pp'] for d, l in rs])} | "
              f"{spread([d['tg'] for d, _ in rs])} | {spread([l['tg'] for _, l in rs])} | "
              f"{spread([d['tg'] / l['tg'] for d, l in rs])} | {spread([l['tg_d0'] for _, l in rs])} | "
              f"{rs[0][0]['kv_kib']:.1f} | "
              f"{statistics.median([d['rss_gb'] for d, _ in rs]):.2f} / {statistics.median([l['rss_gb'] for _, l in rs]):.2f} |")


if __name__ == "__main__":
    main()
