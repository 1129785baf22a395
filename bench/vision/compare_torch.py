#!/usr/bin/env python3
"""Image encode, dsvl vs PyTorch on CPU: a vision tower on one image.

    pip install torch timm
    python3 bench/vision/compare_torch.py --dsvl-bench build/bench/dsvl-bench [--tower l16|so400m|sam] \
        [--weights f32|q8|q4] [--rounds 3] [--threads 1,2]

Towers: l16, SigLIP-L/16 at 384 px (DeepSeek-VL's image encoder: 576 patches, 24 blocks); so400m,
SigLIP-SO400M/14 at 384 px (DeepSeek-VL2's, run once per tile: 729 patches, 27 blocks); sam,
SAM-B at 1024 px (DeepSeek-VL 7B's high-resolution tower: 4096 patches, 12 blocks with relative
positions, 8 of them on 14 x 14 windows, and the neck).
dsvl: `dsvl-bench --filter "siglip_vit hwy <weights> <tower>"` (vision::SiglipVit with the
Highway policy of --weights, random weights, one image through the blocks and the final norm), or
`sam_vit hwy <weights> SAM-B at 1024: 1 image, blocks and neck` (vision::SamVit: embeddings,
blocks and the neck, without DeepSeek-VL's HD branch and downsampling), median of --samples calls.
With --weights q8 or q4 the blocks' matrices are quantized per group of 32 and the GEMMs multiply
int8 activations (docs/quantization.md).
PyTorch: timm's model of the same architecture (`vit_large_patch16_siglip_384`,
`vit_so400m_patch14_siglip_384`, `samvit_base_patch16`; random weights), `forward_features` (the
same work: patch embedding, blocks, final norm or neck; no pooling head, which DeepSeek-VL does
not run) on one image in float32 under `torch.inference_mode()`, `torch.set_num_threads(T)`, one
warm-up call, then the median of --samples calls. With --weights q8 or q4, the same model with its
nn.Linear layers quantized dynamically to int8 (`torch.ao.quantization.quantize_dynamic`, qint8:
int8 weights with one scale per tensor, activations rounded per call, on the x86 / FBGEMM
engine) is timed too, in the same rounds: PyTorch's nearest dtype.

Rounds interleave the two at each thread count. The report gives, per thread count, the median
over rounds [min-max] of each time and of the per-round ratio PyTorch / dsvl (> 1: dsvl is
faster), and each side's peak resident memory: dsvl-bench's (`/usr/bin/time -v`; it holds the
tower's f32 weights and one image's activations), and this Python process's, which holds torch,
timm and the tower.
"""
import argparse
import re
import resource
import statistics
import subprocess
import time

import timm
import torch


# tower: (dsvl-bench op, shape prefix, timm model, image side, description)
TOWERS = {
    "l16": ("siglip_vit", "SigLIP-L/16 at 384", "vit_large_patch16_siglip_384", 384, "SigLIP-L/16 at 384, one image"),
    "so400m": ("siglip_vit", "SigLIP-SO400M/14 at 384", "vit_so400m_patch14_siglip_384", 384,
               "SigLIP-SO400M/14 at 384, one tile"),
    "sam": ("sam_vit", "SAM-B at 1024: 1 image, blocks and neck", "samvit_base_patch16", 1024,
            "SAM-B at 1024 (blocks and neck), one image"),
}


def dsvl_ms(bench, op, weights, shape, threads, samples):
    """(median ms, peak RSS GB) of the dsvl-bench case."""
    p = subprocess.run(["/usr/bin/time", "-v", bench, "--filter", "%s hwy %s %s" % (op, weights, shape), "--threads",
                        str(threads), "--rounds", "1", "--samples", str(samples), "--markdown"],
                       check=True, capture_output=True, text=True)
    out = p.stdout
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (len(cells) > 5 and cells[0] == op and cells[2] == weights and cells[3].startswith(shape)
                and cells[4] == str(threads)):
            return float(cells[5]) / 1e3, int(rss.group(1)) / 1e6  # the driver reports microseconds
    raise SystemExit("no %s hwy %s %s row at %d thread(s) in:\n%s" % (op, weights, shape, threads, out))


def torch_ms(model, image, threads, samples):
    torch.set_num_threads(threads)
    with torch.inference_mode():
        model.forward_features(image)
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            model.forward_features(image)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def summary(values):
    return "%.1f [%.1f-%.1f]" % (statistics.median(values), min(values), max(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsvl-bench", required=True)
    ap.add_argument("--tower", choices=sorted(TOWERS), default="l16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--weights", choices=["f32", "q8", "q4"], default="f32")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]

    torch.manual_seed(0)
    op, shape, timm_name, side, title = TOWERS[a.tower]
    model = timm.create_model(timm_name, pretrained=False).eval()
    image = torch.rand(1, 3, side, side) * 2 - 1
    peers = {"PyTorch f32": model}
    if a.weights != "f32":
        peers["PyTorch int8"] = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    results = {t: {"dsvl": [], **{n: [] for n in peers}, **{n + " ratio": [] for n in peers}} for t in threads}
    dsvl_rss = 0.0
    for r in range(a.rounds):
        for t in threads:
            d, rss = dsvl_ms(a.dsvl_bench, op, a.weights, shape, t, a.samples)
            dsvl_rss = max(dsvl_rss, rss)
            results[t]["dsvl"].append(d)
            line = "round %d, %d thread(s): dsvl %.1f ms" % (r + 1, t, d)
            for name, m in peers.items():
                p = torch_ms(m, image, t, a.samples)
                results[t][name].append(p)
                results[t][name + " ratio"].append(p / d)
                line += ", %s %.1f ms" % (name, p)
            print(line, flush=True)

    print("\n%s, dsvl %s (torch %s, timm %s)" % (title, a.weights, torch.__version__, timm.__version__))
    print("| threads | dsvl hwy %s ms | %s |" % (a.weights, " | ".join("%s ms | %s / dsvl" % (n, n) for n in peers)))
    print("|---:|---:|%s" % ("---:|---:|" * len(peers)))
    for t in threads:
        x = results[t]
        cells = ["%s | %.2f [%.2f-%.2f]" % (summary(x[n]), statistics.median(x[n + " ratio"]), min(x[n + " ratio"]),
                                            max(x[n + " ratio"])) for n in peers]
        print("| %d | %s | %s |" % (t, summary(x["dsvl"]), " | ".join(cells)))
    torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    print("\npeak RSS: dsvl-bench %.2f GB, PyTorch process %.2f GB" % (dsvl_rss, torch_rss))

if __name__ == "__main__":
    main()
