#!/usr/bin/env python3
"""Image encode, dsvl vs PyTorch on CPU: the SigLIP-L/16 tower at 384 px (DeepSeek-VL's image encoder).

    pip install torch timm
    python3 bench/vision/compare_torch.py --dsvl-bench build/bench/dsvl-bench [--rounds 3] [--threads 1,2]

dsvl: `dsvl-bench --filter "siglip_vit hwy f32"` (vision::SiglipVit with the Highway f32 policy,
random weights, one image of 576 patches through the 24 blocks and the final norm), median of
--samples calls.
PyTorch: timm's `vit_large_patch16_siglip_384` (the architecture DeepSeek-VL builds, random
weights), `forward_features` (the same work: patch embedding, 24 blocks, final norm; no pooling
head, which DeepSeek-VL does not run) on one image in float32 under `torch.inference_mode()`,
`torch.set_num_threads(T)`, one warm-up call, then the median of --samples calls.

Rounds interleave the two at each thread count. The report gives, per thread count, the median
over rounds [min-max] of each time and of the per-round ratio PyTorch / dsvl (> 1: dsvl is
faster).
"""
import argparse
import statistics
import subprocess
import time

import timm
import torch


def dsvl_ms(bench, threads, samples):
    out = subprocess.run([bench, "--filter", "siglip_vit hwy f32", "--threads", str(threads), "--rounds", "1",
                          "--samples", str(samples), "--markdown"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 5 and cells[0] == "siglip_vit" and cells[1] == "hwy" and cells[4] == str(threads):
            return float(cells[5]) / 1e3  # the driver reports microseconds
    raise SystemExit("no siglip_vit hwy f32 row at %d thread(s) in:\n%s" % (threads, out))


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
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--samples", type=int, default=3)
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]

    torch.manual_seed(0)
    model = timm.create_model("vit_large_patch16_siglip_384", pretrained=False).eval()
    image = torch.rand(1, 3, 384, 384) * 2 - 1

    results = {t: {"dsvl": [], "torch": [], "ratio": []} for t in threads}
    for r in range(a.rounds):
        for t in threads:
            d = dsvl_ms(a.dsvl_bench, t, a.samples)
            p = torch_ms(model, image, t, a.samples)
            results[t]["dsvl"].append(d)
            results[t]["torch"].append(p)
            results[t]["ratio"].append(p / d)
            print("round %d, %d thread(s): dsvl %.1f ms, PyTorch %.1f ms" % (r + 1, t, d, p), flush=True)

    print("\nSigLIP-L/16 at 384, one image, f32 (torch %s, timm %s)" % (torch.__version__, timm.__version__))
    print("| threads | dsvl hwy ms | PyTorch ms | PyTorch / dsvl |")
    print("|---:|---:|---:|---:|")
    for t in threads:
        x = results[t]
        print("| %d | %s | %s | %.2f [%.2f-%.2f] |" % (t, summary(x["dsvl"]), summary(x["torch"]),
                                                    statistics.median(x["ratio"]), min(x["ratio"]), max(x["ratio"])))

if __name__ == "__main__":
    main()
