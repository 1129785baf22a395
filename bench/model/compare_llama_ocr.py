#!/usr/bin/env python3
"""DeepSeek-OCR end to end, one page, dsvl vs llama.cpp's llama-mtmd-cli on the same model and work.

    build/examples/dsvl random-model --preset ocr --out /data/ocr-random \\
        --tokenizer ../shared/data/tokenizers/deepseek-vl2/tokenizer.json
    build/examples/dsvl quantize --model /data/ocr-random --weights q8 --out /data/ocr-random-q8  # and q4
    (convert the bf16 directory with llama.cpp's convert_hf_to_gguf.py: the text GGUF and, with --mmproj,
    the vision GGUF; then llama-quantize to Q8_0 and Q4_0)
    python3 bench/model/compare_llama_ocr.py --dsvl build/examples/dsvl --model /data/ocr-random \\
        --model q8=/data/ocr-random-q8 --model q4=/data/ocr-random-q4 \\
        --mtmd-cli LLAMA/build/bin/llama-mtmd-cli --mmproj mmproj-ocr-BF16.gguf \\
        --gguf bf16=ocr-BF16.gguf --gguf q8=ocr-Q8_0.gguf --gguf q4=ocr-Q4_0.gguf \\
        --image page.png [--tokens 1000] [--rounds 3] [--threads 1,2] [--max-load 1.5]

The work, the same on both sides: one page image, the prompt `<image>\\n<|grounding|>Convert the document
to markdown.` without a chat template (DeepSeek-OCR's "plain" format: BOS, the text, the image tag
expanded), then N new tokens, greedy, with EOS ignored (random weights would stop anywhere).
Both engines pick DeepSeek-OCR's Gundam mode by themselves: the page padded to 1024x1024 (16x16 = 256
image rows, an image_newline after each of the 16 rows, the view separator: 273 rows), plus 640-px
tiles when a side of the page exceeds 640 px. A page of at most 640x640 px is therefore Base-mode
work on both sides (273 image rows, no tiles); a larger page adds the tiles on both sides (the
script checks that the prompt lengths agree).

dsvl: `dsvl run --raw --ignore-eos --max-new-tokens N --weights W --kv-cache K`, DSVL_NUM_THREADS=t;
its own report gives the image encode (the processor, SAM, CLIP and the projector, and the prompt's
rows laid out), the prefill (the language model over the prompt rows, to the first new token) and
the decode (the N-1 steps after it).
llama.cpp: `llama-mtmd-cli -m GGUF --mmproj MMPROJ --image PAGE -p PROMPT -n N --ignore-eos --temp 0
-t t --chat-template deepseek-ocr` (llama.cpp's built-in template for it: the text as
written); its log (`-lv 4`, for libllama's and libmtmd's own timings) gives the image encode (`mtmd batch
encoding done in`, or `image slice encoded in` over every slice; the resize done while tokenizing the
prompt is not in it), the prefill (`prompt eval time`, which runs from the BOS decode to the first
token, less the image encode that comes between them: the BOS, the image rows and the text after them,
in three decodes) and the decode (`eval time`: N-1 steps, as dsvl's; the N-th token's decode is run
but not timed).
llama.cpp's DeepSeek-OCR adds a newline after the image, so its prompt is written without the one
that follows the tag. Its KV cache is f16; dsvl's is bf16 unless `--kv-cache f32`.
Formats: `--weights bf16|q8|q4` on dsvl's side (q8 and q4 from a copy that `dsvl quantize` wrote, given
as `--model q8=DIR`, or quantized at load from the bf16 directory) against BF16, Q8_0 and Q4_0 text
GGUFs (`llama-quantize`; its Q4_0 keeps output.weight in Q6_K, dsvl's q4 its head in q8); the vision
side stays bf16 on both (dsvl's default under q8 and q4; the same BF16 mmproj for every llama.cpp
format, where SAM's position tables, rel-pos tables, neck and downsample convolutions are F32 as the
converter writes them).

Each run is a whole process under /usr/bin/time -v (wall seconds, peak RSS). Pages per minute:
60 / wall seconds (load included), and 60 / (encode + prefill + decode) seconds (the page's work).
Rounds interleave the two tools: round, format, thread count, then dsvl and llama.cpp. Before each
pair the 1-minute load average is read; above --max-load the script waits a minute at a time, up to
--wait-minutes, then measures only if the load has dropped since it started waiting (otherwise the
pair is skipped and said so). The report gives, per format and thread count, the median over rounds
[min-max] of each figure and of the per-round ratio (> 1: dsvl is faster), and the load readings.

`--print-commands` prints the two commands of every format and thread count (to time them with
another tool); `--parse-logs DSVL_LOG LLAMA_LOG` reads files that hold the output of one or more
runs of each (each tool's stderr, and /usr/bin/time -v's report where there is one) and prints the
same table, pairing the i-th runs.
"""
import argparse
import json
import os
import pathlib
import re
import shlex
import statistics
import subprocess
import sys
import time

PROMPT = "<|grounding|>Convert the document to markdown."
DSVL_PROMPT = "<image>\n" + PROMPT
LLAMA_PROMPT = "<__media__>" + PROMPT  # llama.cpp's DeepSeek-OCR puts "\n" after the image itself

DSVL_RE = re.compile(r"load ([\d.]+) s \| image encode (\d+) ms .* prefill (\d+) tokens in ([\d.]+) s "
                     r"\(([\d.]+) tokens/s\) \| decode (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\)")
TIME_WALL_RE = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")
TIME_RSS_RE = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def time_report(text):
    """Wall seconds and peak RSS (GB) from /usr/bin/time -v's report, or None."""
    wall, rss = TIME_WALL_RE.search(text), TIME_RSS_RE.search(text)
    if not wall or not rss:
        return None
    h, m, s = wall.groups()
    return {"wall_s": int(h or 0) * 3600 + int(m) * 60 + float(s), "rss_gb": int(rss.group(1)) / 1e6}


def parse_dsvl(text):
    m = DSVL_RE.search(text)
    if not m:
        return None
    out = {"load_s": float(m.group(1)), "encode_ms": float(m.group(2)), "prompt_tokens": int(m.group(3)),
           "prefill_ms": float(m.group(4)) * 1e3, "pp": float(m.group(5)), "decode_steps": int(m.group(6)),
           "decode_ms": float(m.group(7)) * 1e3, "tg": float(m.group(8))}
    out.update(time_report(text) or {})
    return out


def parse_llama(text):
    """llama-mtmd-cli's log at -lv 4. Its `prompt eval time` runs from the BOS decode to the first
    token and so holds the image encode that comes between them: the prefill is that minus the encode."""
    encode = [float(x) for x in re.findall(r"(?:image slice encoded|mtmd batch encoding done) in (\d+) ms", text)]
    image_rows = [float(x) for x in re.findall(r"image decoded \(batch \d+/\d+\) in (\d+) ms", text)]
    pp = re.search(r"prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens", text)
    tg = re.search(r"\beval time =\s+([\d.]+) ms /\s+(\d+) runs", text)
    if not encode or not pp or not tg:
        return None
    prefill_ms = float(pp.group(1)) - sum(encode)
    out = {"encode_ms": sum(encode), "prompt_tokens": int(pp.group(2)), "prefill_ms": prefill_ms,
           "pp": int(pp.group(2)) / prefill_ms * 1e3, "image_rows_ms": sum(image_rows),
           "decode_steps": int(tg.group(2)), "decode_ms": float(tg.group(1)),
           "tg": int(tg.group(2)) / float(tg.group(1)) * 1e3}
    out.update(time_report(text) or {})
    return out


def split_runs(text):
    """One log holding several runs: each run ends with /usr/bin/time -v's report (its last line is
    'Exit status: N'); without such reports, each run ends where the next one's figures begin."""
    if "Exit status:" in text:
        parts = re.split(r"(?<=Exit status: \d)\n", text)
        return [p for p in parts if p.strip()]
    return [text]


def dsvl_model(args, weights):
    return args.model.get(weights, args.model.get(""))


def dsvl_command(args, weights, threads):
    return ["env", f"DSVL_NUM_THREADS={threads}", args.dsvl, "run", "--model", dsvl_model(args, weights), "--image", args.image,
            "--raw", "--prompt", DSVL_PROMPT, "--max-new-tokens", str(args.tokens), "--ignore-eos",
            "--weights", weights, "--kv-cache", args.kv_cache]


def llama_command(args, weights, threads):
    return [args.mtmd_cli, "-m", args.gguf[weights], "--mmproj", args.mmproj, "--image", args.image,
            "-p", LLAMA_PROMPT, "--chat-template", "deepseek-ocr", "-n", str(args.tokens), "--ignore-eos",
            "--temp", "0", "-t", str(threads), "-c", str(args.context), "-lv", "4"] + shlex.split(args.llama_args)


def run_timed(cmd, parse, what):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, encoding="utf-8",
                       errors="replace", stdin=subprocess.DEVNULL)
    figures = parse(p.stderr) if p.returncode == 0 else None
    if figures is None:
        sys.exit(f"{what} failed (exit {p.returncode}):\n{shlex.join(cmd)}\n{p.stderr[-4000:]}")
    return figures


def load_average():
    return os.getloadavg()[0]


def wait_for_quiet(args):
    """The 1-minute load before a pair, after waiting for it to fall to --max-load; None: skip the pair."""
    first = load = load_average()
    waited = 0
    while load > args.max_load and waited < args.wait_minutes:
        print(f"load {load:.2f} > {args.max_load}: waiting a minute ({waited + 1}/{args.wait_minutes})",
              file=sys.stderr, flush=True)
        time.sleep(60)
        waited += 1
        load = load_average()
    if load > args.max_load and load >= first:
        return None
    return load


def spread(values, digits=2):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    f = f"{{:.{digits}f}}"
    return f"{f.format(statistics.median(values))} [{f.format(min(values))}-{f.format(max(values))}]"


def report(rows, tokens):
    """rows: {(weights, threads): [(dsvl, llama, load), ...]} -> the Markdown tables."""
    print(f"| weights | threads | pairs | load (1 min) | dsvl encode ms | llama.cpp encode ms | encode ratio | "
          f"dsvl prefill tok/s | llama.cpp prefill tok/s | prefill ratio | dsvl decode tok/s | "
          f"llama.cpp decode tok/s | decode ratio |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (w, t), rs in rows.items():
        if not rs:
            print(f"| {w} | {t} | 0 | not measured (load) | | | | | | | | | |")
            continue
        print(f"| {w} | {t} | {len(rs)} | {spread([x for _, _, x in rs])} | "
              f"{spread([d['encode_ms'] for d, _, _ in rs], 0)} | {spread([l['encode_ms'] for _, l, _ in rs], 0)} | "
              f"{spread([l['encode_ms'] / d['encode_ms'] for d, l, _ in rs])} | "
              f"{spread([d['pp'] for d, _, _ in rs], 1)} | {spread([l['pp'] for _, l, _ in rs], 1)} | "
              f"{spread([d['pp'] / l['pp'] for d, l, _ in rs])} | "
              f"{spread([d['tg'] for d, _, _ in rs])} | {spread([l['tg'] for _, l, _ in rs])} | "
              f"{spread([d['tg'] / l['tg'] for d, l, _ in rs])} |")
    print()
    print(f"| weights | threads | dsvl wall s | llama.cpp wall s | wall ratio | pages/min dsvl / llama.cpp | "
          f"work pages/min dsvl / llama.cpp | work ratio | peak RSS dsvl / llama.cpp GB | prompt tokens |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    work = lambda f: (f["encode_ms"] + f["prefill_ms"] + f["decode_ms"]) / 1e3
    for (w, t), rs in rows.items():
        if not rs:
            continue
        timed = [(d, l) for d, l, _ in rs if "wall_s" in d and "wall_s" in l]
        med = lambda v: statistics.median(v) if v else float("nan")
        print(f"| {w} | {t} | {spread([d['wall_s'] for d, _ in timed], 1)} | {spread([l['wall_s'] for _, l in timed], 1)} | "
              f"{spread([l['wall_s'] / d['wall_s'] for d, l in timed])} | "
              f"{med([60 / d['wall_s'] for d, _ in timed]):.2f} / {med([60 / l['wall_s'] for _, l in timed]):.2f} | "
              f"{med([60 / work(d) for d, _, _ in rs]):.2f} / {med([60 / work(l) for _, l, _ in rs]):.2f} | "
              f"{spread([work(l) / work(d) for d, l, _ in rs])} | "
              f"{med([d['rss_gb'] for d, _ in timed]):.2f} / {med([l['rss_gb'] for _, l in timed]):.2f} | "
              f"{rs[0][0]['prompt_tokens']} / {rs[0][1]['prompt_tokens']} |")
    print(f"\n{tokens} new tokens a page. Ratios: dsvl's speed over llama.cpp's, pair by pair (> 1: dsvl is faster); "
          f"medians [min-max].")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsvl", help="the dsvl tool")
    ap.add_argument("--model", action="append", default=[], metavar="[WEIGHTS=]DIR",
                    help="dsvl model directory (dsvl random-model --preset ocr), for every format, or for "
                         "--weights WEIGHTS only (a copy written by dsvl quantize); repeat")
    ap.add_argument("--mtmd-cli", help="llama.cpp's llama-mtmd-cli")
    ap.add_argument("--mmproj", help="the vision GGUF (convert_hf_to_gguf.py --mmproj)")
    ap.add_argument("--gguf", action="append", default=[], metavar="WEIGHTS=PATH",
                    help="the text GGUF for dsvl's --weights WEIGHTS (bf16, q8, q4); repeat")
    ap.add_argument("--image", help="the page (PNG or JPEG)")
    ap.add_argument("--tokens", type=int, default=1000, help="new tokens a page (default 1000)")
    ap.add_argument("--kv-cache", default="bf16", help="dsvl run --kv-cache (llama.cpp's is f16)")
    ap.add_argument("--context", type=int, default=4096, help="llama.cpp's -c (default 4096)")
    ap.add_argument("--llama-args", default="", help="more llama-mtmd-cli options, one string")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--max-load", type=float, default=1.5, help="1-minute load average to wait below")
    ap.add_argument("--wait-minutes", type=int, default=20)
    ap.add_argument("--json", help="write every run's figures here")
    ap.add_argument("--print-commands", action="store_true")
    ap.add_argument("--parse-logs", nargs=2, metavar=("DSVL_LOG", "LLAMA_LOG"))
    args = ap.parse_args()

    if args.parse_logs:
        d_runs = [parse_dsvl(t) for t in split_runs(pathlib.Path(args.parse_logs[0]).read_text(errors="replace"))]
        l_runs = [parse_llama(t) for t in split_runs(pathlib.Path(args.parse_logs[1]).read_text(errors="replace"))]
        pairs = [(d, l, None) for d, l in zip(d_runs, l_runs) if d and l]
        print(json.dumps({"dsvl": d_runs, "llama.cpp": l_runs}, indent=1), file=sys.stderr)
        report({("?", "?"): pairs}, args.tokens)
        return

    args.gguf = dict(g.split("=", 1) for g in args.gguf)
    args.model = dict(m.split("=", 1) if "=" in m else ("", m) for m in args.model)
    threads = [int(t) for t in args.threads.split(",")]
    missing = [n for n in ("dsvl", "mtmd_cli", "mmproj", "image") if getattr(args, n) is None]
    if missing or not args.gguf or any(dsvl_model(args, w) is None for w in args.gguf):
        ap.error("needs --dsvl, --model, --mtmd-cli, --mmproj, --image and at least one --gguf")
    if args.print_commands:
        for w in args.gguf:
            for t in threads:
                print(f"# {w}, {t} thread{'s' if t > 1 else ''}\n{shlex.join(dsvl_command(args, w, t))}\n"
                      f"{shlex.join(llama_command(args, w, t))}")
        return

    # Warm the page cache for both.
    files = [f for w in args.gguf for f in pathlib.Path(dsvl_model(args, w)).glob("*.safetensors")]
    files += [pathlib.Path(args.mmproj)]
    files += [pathlib.Path(p) for p in args.gguf.values()]
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    rows = {(w, t): [] for w in args.gguf for t in threads}
    log = []
    for r in range(args.rounds):
        for w in args.gguf:
            for t in threads:
                load = wait_for_quiet(args)
                if load is None:
                    print(f"round {r + 1} {w} threads {t}: skipped, load {load_average():.2f} did not drop",
                          file=sys.stderr, flush=True)
                    continue
                d = run_timed(dsvl_command(args, w, t), parse_dsvl, "dsvl")
                l = run_timed(llama_command(args, w, t), parse_llama, "llama-mtmd-cli")
                if d["prompt_tokens"] != l["prompt_tokens"]:
                    print(f"note: prompt of {d['prompt_tokens']} tokens in dsvl, {l['prompt_tokens']} in llama.cpp",
                          file=sys.stderr)
                rows[(w, t)].append((d, l, load))
                log.append({"round": r + 1, "weights": w, "threads": t, "load": load, "dsvl": d, "llama.cpp": l})
                print(f"round {r + 1} {w} threads {t} load {load:.2f}: dsvl {d}  llama.cpp {l}",
                      file=sys.stderr, flush=True)
                if args.json:
                    pathlib.Path(args.json).write_text(json.dumps(log, indent=1) + "\n")
    report(rows, args.tokens)


if __name__ == "__main__":
    main()
