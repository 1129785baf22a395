"""Fixtures for image decoding and DeepSeek-VL's image preprocessing, from Pillow and numpy.

Writes
  tests/data/images/              small PNG and JPEG images of every kind dsvl reads, plus broken
                                  and unsupported files
  tests/data/preprocess/cases.json  the cases, with CRC-32 checksums of every expected result
  tests/data/preprocess/expected.bin  the expected bytes of the smaller results, concatenated
read by tests/io/image_test.cpp and tests/vision/preprocess_test.cpp.

Run from the repository root:

    pip install pillow numpy
    python3 tools/reference/preprocess_v1.py           # writes the files above
    python3 tools/reference/preprocess_v1.py --check   # recomputes from the committed images
                                                       # and reports any difference

Expected results, each as a uint8 or float32 array in C order:
  decode    PIL.Image.open(file).convert("RGB")                               uint8 [H, W, 3]
  resize    PIL.Image.resize((out_w, out_h), Image.BICUBIC) of an "RGB" image  uint8 [Ho, Wo, 3]
            whose pixels are a pattern the tests recompute (pattern() below)
  v1        deepseek_vl's VLMImageProcessor on Image.open(file).convert("RGB"), one image:
            the resized, padded uint8 [S, S, 3] ("square") and the float32 [3, S, S] pixel values
  pad       PIL.ImageOps.pad(image, (out_w, out_h), Image.BICUBIC, color, centering) of a file's
            or a pattern's RGB image, as DeepSeek-VL2 pads its global view and tile canvas
                                                                              uint8 [Ho, Wo, 3]
Pillow releases order the two passes of a resize differently (RULES below), so resize and v1
results are given for each: "before_12_2" (Pillow <= 12.1, horizontal pass first), "v12_2"
(12.2, 12.3) and "v13" (13.0). Each is computed as two one-axis resizes in that order (a one-axis
resize is the same in every release), and the running Pillow's own Image.resize is checked
against its rule.
The v1 steps are the official ones (deepseek_vl/models/image_processing_vlm.py at
deepseek-ai/DeepSeek-VL 9bb7bc3): torchvision's resize of a PIL image is Image.resize with the
size reversed, expand2square pastes at ((S - w) // 2, 0) or (0, (S - h) // 2) on a canvas of
int(mean * 255), transformers' rescale is float32(uint8 * rescale_factor) computed in float64,
and its normalize is (x - float32(mean)) / float32(std) in float32.

cases.json: {"pillow", "libjpeg_turbo", "numpy": versions used; "blob": "expected.bin";
  "decode": [{"file", "what", "h", "w", "crc32", "offset"}],
  "errors": [{"file", "what", "pillow"}]                 (Pillow's exception, or "opens" for
                                                          formats that Pillow reads and dsvl not),
  "resize": [{"pattern", "seed", "h", "w", "out_h", "out_w",
              "expected": {rule: {"crc32", "offset"}}}],
  "v1": [{"file", "image_size", "min_size", "image_mean", "image_std", "rescale_factor",
          "do_normalize", "resized_h", "resized_w", "background",
          "expected": {rule: {"square_crc32", "crc32", "offset"}}}],
  "pad": [{"file" or "pattern" + "seed" + "h" + "w", "out_h", "out_w", "color", "centering",
           "contain_h", "contain_w", "expected": {rule: {"crc32", "offset"}}}]}
crc32 is zlib's CRC-32 of the expected array's bytes (float32 little-endian); offset is where
those bytes start in expected.bin, or -1 when only the checksum is kept (results over
16384 bytes).
"""

import argparse
import io
import json
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps, features

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
IMAGES = os.path.join(ROOT, "tests", "data", "images")
OUT = os.path.join(ROOT, "tests", "data", "preprocess")
STORE_LIMIT = 16384  # results up to this many bytes are stored whole


# ---- patterns (tests/vision/preprocess_test.cpp computes the same pixels) -------------------------

def mix32(v):
    """lowbias32 integer hash on uint32 arrays."""
    v = v.astype(np.uint32)
    v ^= v >> np.uint32(16)
    v *= np.uint32(0x7FEB352D)
    v ^= v >> np.uint32(15)
    v *= np.uint32(0x846CA68B)
    v ^= v >> np.uint32(16)
    return v


def pattern(kind, seed, h, w):
    """uint8 [h, w, 3]. noise: hash & 255; smooth: gradients plus a little noise, wrapping at 256;
    blocks: a 0/255 checkerboard of b x b squares, b = 1 + seed % 5, shifted per channel."""
    y, x, c = np.meshgrid(np.arange(h, dtype=np.uint32), np.arange(w, dtype=np.uint32),
                          np.arange(3, dtype=np.uint32), indexing="ij")
    hsh = mix32(np.uint32((seed * 0x9E3779B1) & 0xFFFFFFFF) + y * np.uint32(0x85EBCA77)
                + x * np.uint32(0xC2B2AE3D) + c * np.uint32(0x27D4EB2F))
    if kind == "noise":
        v = hsh & np.uint32(255)
    elif kind == "smooth":
        v = ((x * np.uint32(251)) // np.uint32(max(w - 1, 1)) + (y * np.uint32(127)) // np.uint32(max(h - 1, 1))
             + c * np.uint32(60) + (hsh & np.uint32(15))) & np.uint32(255)
    elif kind == "blocks":
        b = np.uint32(1 + seed % 5)
        v = ((x // b + y // b + c) & np.uint32(1)) * np.uint32(255)
    else:
        raise ValueError(kind)
    return v.astype(np.uint8)


# ---- a small PNG writer for what Pillow cannot save (16-bit colour, 1/2/4-bit, interlacing) --------

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_pack_row(row, bit_depth):
    flat = row.reshape(-1)
    if bit_depth == 16:
        return flat.astype(">u2").tobytes()
    if bit_depth == 8:
        return flat.astype(np.uint8).tobytes()
    per = 8 // bit_depth
    out = bytearray()
    for i in range(0, len(flat), per):
        byte = 0
        for j, v in enumerate(flat[i:i + per]):
            byte |= int(v) << (8 - bit_depth * (j + 1))
        out.append(byte)
    return bytes(out)


def png_filter(kind, cur, prev, bpp):
    out = bytearray(len(cur))
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i] if prev is not None else 0
        c = prev[i - bpp] if (prev is not None and i >= bpp) else 0
        if kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        else:
            pred = [0, a, b, (a + b) // 2][kind]
        out[i] = (cur[i] - pred) & 255
    return bytes([kind]) + bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_encode(samples, bit_depth, color_type, plte=None, trns=None, interlace=False, ihdr_size=None):
    """samples: [h, w, channels] integers. Rows cycle through the five filter types."""
    h, w, ch = samples.shape
    bpp = max(1, ch * bit_depth // 8)
    raw, k = bytearray(), 0
    for x0, y0, dx, dy in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        prev = None
        for r in range(sub.shape[0]):
            cur = png_pack_row(sub[r], bit_depth)
            raw += png_filter(k % 5, cur, prev, bpp)
            k += 1
            prev = cur
    W, H = ihdr_size if ihdr_size else (w, h)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, bit_depth, color_type, 0, 0,
                                                                  1 if interlace else 0))
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += png_chunk(b"tRNS", bytes(trns))
    return out + png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + png_chunk(b"IEND", b"")


# ---- the test images -----------------------------------------------------------------------------

def photo(h, w, seed):
    """A smooth synthetic photograph: gradients, two discs, soft noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 60 + 150 * x / max(w - 1, 1)
    g = 40 + 170 * y / max(h - 1, 1)
    b = 200 - 120 * (x + y) / max(w + h - 2, 1)
    img = np.stack([r, g, b], axis=-1)
    for cy, cx, rad, col in [(0.35, 0.3, 0.22, (230, 40, 30)), (0.65, 0.7, 0.18, (20, 30, 220))]:
        d = np.hypot(y - cy * h, x - cx * w)
        img[d < rad * min(h, w)] = col
    img += rng.normal(0, 3, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def pil_bytes(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def make_images():
    """{name: (bytes, what)} for the decodable images, then for the broken or unsupported files."""
    rgb = photo(23, 37, 1)
    gray = rgb[..., 1]
    alpha = pattern("smooth", 7, 23, 37)[..., 0]
    ok = {}
    ok["rgb8.png"] = (pil_bytes(Image.fromarray(rgb), "PNG"), "8-bit RGB")
    ok["rgba8.png"] = (pil_bytes(Image.fromarray(np.dstack([rgb, alpha])), "PNG"),
                       "8-bit RGBA, alpha 0..255 (dropped, not composited)")
    ok["gray8.png"] = (pil_bytes(Image.fromarray(gray), "PNG"), "8-bit gray")
    ok["la8.png"] = (pil_bytes(Image.fromarray(np.dstack([gray, alpha]), "LA"), "PNG"), "8-bit gray + alpha")
    pal = Image.fromarray(rgb).quantize(64)
    ok["p8.png"] = (pil_bytes(pal, "PNG"), "8-bit palette, 64 colours")
    ok["p8_trns.png"] = (pil_bytes(pal, "PNG", transparency=bytes(range(0, 256, 4))), "8-bit palette with tRNS")
    ok["rgb8_trns.png"] = (pil_bytes(Image.fromarray(rgb), "PNG", transparency=tuple(int(v) for v in rgb[0, 0])),
                           "8-bit RGB with a tRNS colour")
    g16 = (pattern("noise", 3, 19, 21)[..., :2].astype(np.uint16) @ np.array([256, 1], np.uint16))[..., None]
    g16[0, :8, 0] = [0, 1, 254, 255, 256, 1000, 65534, 65535]
    ok["gray16.png"] = (png_encode(g16, 16, 0), "16-bit gray (Pillow: mode I;16, clipped to 255)")
    rgb16 = pattern("noise", 4, 19, 21).astype(np.uint16) * 257 + pattern("noise", 5, 19, 21)
    ok["rgb16.png"] = (png_encode(rgb16, 16, 2), "16-bit RGB (high bytes)")
    rgba16 = np.dstack([rgb16, pattern("noise", 6, 19, 21)[..., :1].astype(np.uint16) * 256])
    ok["rgba16.png"] = (png_encode(rgba16, 16, 6), "16-bit RGBA")
    ok["la16.png"] = (png_encode(rgba16[..., 1:3], 16, 4), "16-bit gray + alpha")
    for bits in (1, 2, 4):
        levels = pattern("noise", 10 + bits, 13, 29)[..., :1] % (1 << bits)
        ok[f"gray{bits}.png"] = (png_encode(levels, bits, 0), f"{bits}-bit gray")
        n = (1 << bits) - 1  # one entry short: the last index has no PLTE colour (black in Pillow)
        plte = [int(v) for v in pattern("noise", 20 + bits, 1, n).reshape(-1)]
        ok[f"p{bits}.png"] = (png_encode(levels, bits, 3, plte=plte), f"{bits}-bit palette, PLTE one entry short")
    ok["p8_short_plte.png"] = (png_encode(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 8, 3,
                                          plte=list(range(30))), "8-bit palette of 10 entries, indices to 255")
    ok["interlaced_rgb8.png"] = (png_encode(photo(13, 11, 2), 8, 2, interlace=True), "Adam7 interlaced 8-bit RGB")
    ok["interlaced_gray2.png"] = (png_encode(pattern("noise", 30, 9, 10)[..., :1] % 4, 2, 0, interlace=True),
                                  "Adam7 interlaced 2-bit gray")
    ok["interlaced_rgba16.png"] = (png_encode(rgba16[:7, :6], 16, 6, interlace=True), "Adam7 interlaced 16-bit RGBA")
    ok["gray16_trns.png"] = (png_encode(g16, 16, 0, trns=[0, 255]), "16-bit gray with a tRNS value")
    ok["1x1.png"] = (pil_bytes(Image.fromarray(rgb[:1, :1]), "PNG"), "1x1 RGB")
    ok["1x57.png"] = (pil_bytes(Image.fromarray(photo(1, 57, 3)), "PNG"), "one row")
    ok["61x1.png"] = (pil_bytes(Image.fromarray(photo(61, 1, 4)), "PNG"), "one column")
    im = Image.fromarray(rgb)
    ok["q90_420.jpg"] = (pil_bytes(im, "JPEG", quality=90), "JPEG baseline 4:2:0 (Pillow's default)")
    ok["q95_444.jpg"] = (pil_bytes(im, "JPEG", quality=95, subsampling=0), "JPEG baseline 4:4:4")
    ok["q75_422.jpg"] = (pil_bytes(im, "JPEG", quality=75, subsampling=1), "JPEG baseline 4:2:2")
    ok["progressive.jpg"] = (pil_bytes(im, "JPEG", quality=85, progressive=True), "JPEG progressive 4:2:0")
    ok["optimized.jpg"] = (pil_bytes(im, "JPEG", quality=80, optimize=True), "JPEG with optimised Huffman tables")
    ok["restart.jpg"] = (pil_bytes(im, "JPEG", quality=80, restart_marker_blocks=3), "JPEG with restart markers")
    ok["gray.jpg"] = (pil_bytes(Image.fromarray(gray), "JPEG", quality=90), "JPEG grayscale")
    cmyk = Image.fromarray(np.dstack([255 - rgb, alpha]), "CMYK")
    ok["cmyk.jpg"] = (pil_bytes(cmyk, "JPEG", quality=90), "JPEG CMYK (Adobe, inverted)")
    ok["1x1.jpg"] = (pil_bytes(Image.fromarray(rgb[:1, :1]), "JPEG", quality=90), "1x1 JPEG")
    ok["odd_17x9.jpg"] = (pil_bytes(Image.fromarray(photo(9, 17, 5)), "JPEG", quality=90), "partial MCUs")
    ok["photo.png"] = (pil_bytes(Image.fromarray(photo(120, 160, 6)), "PNG"), "a 160x120 photograph")
    ok["photo.jpg"] = (pil_bytes(Image.fromarray(photo(120, 160, 6)), "JPEG", quality=90), "the same as JPEG")
    ok["portrait.png"] = (pil_bytes(Image.fromarray(photo(101, 37, 7)), "PNG"), "37x101, odd padding")
    ok["wide.png"] = (pil_bytes(Image.fromarray(photo(5, 300, 8)), "PNG"), "300x5, below min_size after resize")
    ok["square.png"] = (pil_bytes(Image.fromarray(photo(50, 50, 9)), "PNG"), "50x50")

    bad = {}
    png = ok["rgb8.png"][0]
    jpg = ok["q90_420.jpg"][0]
    prog = ok["progressive.jpg"][0]
    ok["no_iend.png"] = (png[:-12], "a PNG without IEND (Pillow reads it)")
    bad["no_eoi.jpg"] = (jpg[:-2], "a JPEG without its EOI marker (Pillow: truncated)")
    bad["empty.png"] = (b"", "an empty file")
    bad["not_an_image.png"] = (b"This is a text file, not a PNG.\n", "a text file named .png")
    bad["truncated.png"] = (png[: len(png) * 6 // 10], "a PNG cut inside IDAT")
    bad["header_only.png"] = (png[:33], "a PNG signature and IHDR, nothing else")
    bad["truncated.jpg"] = (jpg[: len(jpg) // 2], "a baseline JPEG cut in half")
    bad["truncated_progressive.jpg"] = (prog[: len(prog) * 7 // 10], "a progressive JPEG cut at 70%")
    bad["garbage.jpg"] = (b"\xff\xd8\xff" + (mix32(np.arange(200, dtype=np.uint32)) & 255).astype(np.uint8).tobytes(),
                          "FF D8 FF then noise")
    bad["bad_crc.png"] = (png[:29] + bytes([png[29] ^ 0xFF]) + png[30:], "a PNG whose IHDR CRC is wrong")
    bad["zero_width.png"] = (png_encode(np.zeros((1, 1, 3), np.uint8), 8, 2, ihdr_size=(0, 1)), "IHDR width 0")
    sof = jpg.index(b"\xff\xc0\x00\x11\x08")  # SOF0, 3 components, 8 bits
    bad["zero_height.jpg"] = (jpg[: sof + 5] + b"\x00\x00" + jpg[sof + 7:], "SOF0 height 0")
    bad["huge.png"] = (png_encode(np.zeros((1, 1, 3), np.uint8), 8, 2, ihdr_size=(100000, 100000)),
                       "IHDR 100000 x 100000, one pixel of data")
    bad["huge.jpg"] = (jpg[: sof + 5] + struct.pack(">HH", 60000, 60000) + jpg[sof + 9:], "SOF0 60000 x 60000")
    tiny = Image.fromarray(rgb[:8, :8])
    bad["image.gif"] = (pil_bytes(tiny, "GIF"), "GIF")
    bad["image.bmp"] = (pil_bytes(tiny, "BMP"), "BMP")
    bad["image.webp"] = (pil_bytes(tiny, "WEBP", lossless=True), "WebP")
    return ok, bad


# ---- expected results ----------------------------------------------------------------------------

RULES = {
    # Whether a release runs the vertical pass first, for an h x w -> oh x ow resize needing both.
    "before_12_2": lambda h, w, oh, ow: False,
    "v12_2": lambda h, w, oh, ow: h > w * 100 and oh < h,  # Image.resize in Python (Pillow #9524)
    "v13": lambda h, w, oh, ow: h - oh > 0 and h - oh > 2 * (w - ow),  # Resample.c (Pillow #9549)
}


def running_rule():
    major, minor = (int(v) for v in PIL.__version__.split(".")[:2])
    return "before_12_2" if (major, minor) < (12, 2) else ("v12_2" if major == 12 else "v13")


def resize(img, ow, oh, rule):
    """Image.resize((ow, oh), BICUBIC) as Pillow `rule` computes it."""
    w, h = img.size
    if w == ow or h == oh:
        out = img.resize((ow, oh), Image.BICUBIC)  # one pass or none: every release agrees
    elif RULES[rule](h, w, oh, ow):
        out = img.resize((w, oh), Image.BICUBIC).resize((ow, oh), Image.BICUBIC)
    else:
        out = img.resize((ow, h), Image.BICUBIC).resize((ow, oh), Image.BICUBIC)
    if rule == running_rule():
        assert np.array_equal(np.asarray(out), np.asarray(img.resize((ow, oh), Image.BICUBIC))), (img.size, ow, oh)
    return out


def vlm_process(pil_rgb, image_size, min_size, mean, std, rescale_factor, do_normalize, rule):
    """VLMImageProcessor.resize + preprocess for one image: (square uint8 HWC, float32 CHW, (h, w))."""
    width, height = pil_rgb.size
    max_size = max(width, height)
    size = [max(int(height / max_size * image_size), min_size), max(int(width / max_size * image_size), min_size)]
    img = resize(pil_rgb, size[1], size[0], rule) if [height, width] != size else pil_rgb
    background = tuple(int(x * 255) for x in mean)
    w, h = img.size
    if w != h:
        side = max(w, h)
        canvas = Image.new(img.mode, (side, side), background)
        canvas.paste(img, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
        img = canvas
    square = np.asarray(img)
    x = np.transpose(square, (2, 0, 1))
    x = (x * rescale_factor).astype(np.float32)
    if do_normalize:
        m, s = np.array(mean, dtype=np.float32), np.array(std, dtype=np.float32)
        x = ((x.T - m) / s).T
    return square, np.ascontiguousarray(x, dtype=np.float32), size, background


def image_ops_pad(img, ow, oh, color, centering, rule):
    """ImageOps.pad(img, (ow, oh), BICUBIC, color, centering) with the resize of Pillow `rule`:
    (result, contain size (h, w))."""
    w, h = img.size
    size = (ow, oh)
    im_ratio, dest_ratio = w / h, ow / oh
    if im_ratio != dest_ratio:  # ImageOps.contain
        if im_ratio > dest_ratio:
            size = (ow, round(h / w * ow))
        else:
            size = (round(w / h * oh), oh)
    if min(size) == 0:
        resized = Image.new(img.mode, size)  # Pillow 13; older releases raise in resize
    else:
        resized = resize(img, size[0], size[1], rule) if size != img.size else img
    if resized.size == (ow, oh):
        out = resized
    else:
        out = Image.new(img.mode, (ow, oh), color)
        if resized.width != ow:
            out.paste(resized, (round((ow - resized.width) * max(0, min(centering[0], 1))), 0))
        else:
            out.paste(resized, (0, round((oh - resized.height) * max(0, min(centering[1], 1)))))
    if rule == running_rule() and min(size) > 0:
        want = ImageOps.pad(img, (ow, oh), Image.BICUBIC, color, centering)
        assert np.array_equal(np.asarray(out), np.asarray(want)), (img.size, ow, oh)
    return out, (size[1], size[0])


class Blob:
    def __init__(self):
        self.data = bytearray()
        self.seen = {}

    def add(self, arr):
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        entry = {"crc32": zlib.crc32(raw) & 0xFFFFFFFF, "offset": -1}
        if len(raw) <= STORE_LIMIT:
            if raw not in self.seen:
                self.seen[raw] = len(self.data)
                self.data += raw
            entry["offset"] = self.seen[raw]
        return entry


RESIZE_CASES = [
    # (pattern, seed, h, w, out_h, out_w)
    ("noise", 1, 1, 1, 1, 1), ("noise", 2, 1, 1, 3, 5), ("noise", 3, 1, 7, 1, 3), ("noise", 4, 7, 1, 3, 1),
    ("noise", 5, 2, 2, 1, 1), ("blocks", 6, 5, 5, 17, 17), ("noise", 7, 13, 7, 3, 29), ("smooth", 8, 8, 8, 8, 3),
    ("smooth", 9, 8, 8, 3, 8), ("noise", 10, 37, 23, 23, 37), ("smooth", 11, 100, 80, 13, 11),
    ("blocks", 12, 97, 101, 50, 49), ("noise", 13, 64, 64, 63, 65), ("smooth", 14, 3, 500, 1, 100),
    ("noise", 15, 500, 2, 17, 1), ("blocks", 16, 31, 29, 62, 58), ("noise", 17, 45, 45, 15, 15),
    ("smooth", 18, 16, 48, 16, 16), ("blocks", 19, 11, 13, 64, 64), ("noise", 20, 2, 3, 40, 60),
    ("smooth", 21, 200, 3, 50, 7), ("blocks", 22, 9, 9, 9, 9), ("noise", 23, 255, 256, 7, 5),
    ("smooth", 24, 33, 35, 14, 384), ("blocks", 25, 384, 14, 29, 3), ("noise", 26, 1, 300, 1, 299),
    ("noise", 27, 300, 1, 301, 1), ("smooth", 28, 17, 1000, 3, 64),
    # photograph sizes (checksums only)
    ("smooth", 40, 1100, 1500, 750, 1024), ("smooth", 41, 3024, 4032, 768, 1024),
    ("noise", 42, 480, 640, 288, 384), ("noise", 43, 640, 480, 384, 288), ("blocks", 44, 384, 384, 1024, 1024),
    ("noise", 45, 7, 1000, 14, 1024), ("smooth", 46, 1000, 3, 1024, 14), ("noise", 47, 577, 1031, 223, 397),
    # where the releases' pass orders differ
    ("noise", 48, 1201, 11, 97, 5), ("smooth", 49, 3000, 20, 1000, 7), ("blocks", 50, 300, 100, 120, 40),
    ("noise", 51, 40, 25, 20, 13), ("smooth", 52, 2048, 900, 1024, 450),
]

CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
HALF = [0.5, 0.5, 0.5]
V1_CASES = [
    # (file, image_size, mean, std, do_normalize)
    ("photo.png", 384, HALF, HALF, False),           # DeepSeek-VL 1.3B
    ("photo.png", 1024, CLIP_MEAN, CLIP_STD, False),  # DeepSeek-VL 7B
    ("photo.png", 384, CLIP_MEAN, CLIP_STD, True),
    ("photo.png", 384, HALF, HALF, True),
    ("photo.jpg", 1024, CLIP_MEAN, CLIP_STD, False),
    ("portrait.png", 384, HALF, HALF, False),
    ("portrait.png", 1024, CLIP_MEAN, CLIP_STD, True),
    ("wide.png", 384, HALF, HALF, False),
    ("wide.png", 1024, CLIP_MEAN, CLIP_STD, False),
    ("square.png", 384, HALF, HALF, False),
    ("1x1.png", 384, CLIP_MEAN, CLIP_STD, True),
    ("rgba8.png", 384, HALF, HALF, False),
    ("gray16.png", 384, HALF, HALF, False),
    ("cmyk.jpg", 384, HALF, HALF, False),
    ("portrait.png", 48, CLIP_MEAN, CLIP_STD, True),   # small enough to store whole
    ("photo.png", 40, HALF, HALF, False),
    ("wide.png", 32, CLIP_MEAN, CLIP_STD, True),
]


GRAY = (127, 127, 127)
PAD_CASES = [
    # (file or (pattern, seed, h, w), out_h, out_w, color, centering)
    ("photo.png", 384, 384, GRAY, (0.5, 0.5)),     # DeepSeek-VL2's global view
    ("photo.png", 768, 768, GRAY, (0.5, 0.5)),     # its 2x2 tile canvas
    ("photo.png", 384, 1152, GRAY, (0.5, 0.5)),
    ("portrait.png", 768, 384, GRAY, (0.5, 0.5)),
    ("portrait.png", 384, 384, GRAY, (0.5, 0.5)),
    ("wide.png", 384, 384, GRAY, (0.5, 0.5)),
    ("wide.png", 384, 3456, GRAY, (0.5, 0.5)),
    ("square.png", 384, 384, GRAY, (0.5, 0.5)),
    ("1x1.png", 384, 384, GRAY, (0.5, 0.5)),
    ("q90_420.jpg", 384, 768, GRAY, (0.5, 0.5)),
    (("noise", 60, 3, 8), 14, 14, (1, 2, 3), (0.5, 0.5)),   # offset round(4.5) = 4
    (("noise", 61, 3, 8), 12, 12, (1, 2, 3), (0.5, 0.5)),   # height round(4.5) = 4
    (("smooth", 62, 8, 3), 8, 8, (9, 8, 7), (0.5, 0.5)),    # offset round(2.5) = 2
    (("blocks", 63, 20, 30), 17, 9, (0, 0, 0), (0.0, 0.0)),
    (("noise", 64, 20, 30), 9, 17, (255, 0, 255), (1.0, 1.0)),
    (("smooth", 65, 1, 1000), 384, 384, GRAY, (0.5, 0.5)),  # contain height round(0.384) = 0
    (("noise", 66, 77, 77), 384, 384, GRAY, (0.5, 0.5)),
    (("smooth", 67, 1000, 999), 50, 60, GRAY, (0.3, 0.8)),
]


def pillow_error(path):
    try:
        with Image.open(path) as im:
            im.convert("RGB")
    except Exception as e:  # noqa: BLE001 - any failure is what we record
        return f"{type(e).__name__}: {e}".replace(path, os.path.basename(path))
    return "opens"


def compute(ok_names, bad):
    blob = Blob()
    doc = {
        "generator": "tools/reference/preprocess_v1.py",
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "numpy": np.__version__,
        "blob": "expected.bin",
        "decode": [], "errors": [], "resize": [], "v1": [], "pad": [],
    }
    for name, what in ok_names:
        with Image.open(os.path.join(IMAGES, name)) as im:
            a = np.asarray(im.convert("RGB"))
        doc["decode"].append({"file": "images/" + name, "what": what, "h": a.shape[0], "w": a.shape[1], **blob.add(a)})
    for name, what in bad:
        doc["errors"].append({"file": "images/" + name, "what": what,
                              "pillow": pillow_error(os.path.join(IMAGES, name))})
    for kind, seed, h, w, oh, ow in RESIZE_CASES:
        img = Image.fromarray(pattern(kind, seed, h, w))
        expected = {}
        for rule in RULES:
            out = np.asarray(resize(img, ow, oh, rule))
            assert out.shape == (oh, ow, 3)
            expected[rule] = blob.add(out)
        doc["resize"].append({"pattern": kind, "seed": seed, "h": h, "w": w, "out_h": oh, "out_w": ow,
                              "expected": expected})
    for name, size, mean, std, norm in V1_CASES:
        with Image.open(os.path.join(IMAGES, name)) as im:
            rgb = im.convert("RGB")
        case = {"file": "images/" + name, "image_size": size, "min_size": 14, "image_mean": mean,
                "image_std": std, "rescale_factor": 1.0 / 255.0, "do_normalize": norm, "expected": {}}
        for rule in RULES:
            square, x, (rh, rw), bg = vlm_process(rgb, size, 14, mean, std, 1.0 / 255.0, norm, rule)
            assert x.shape == (3, size, size)
            case.update({"resized_h": rh, "resized_w": rw, "background": list(bg)})
            case["expected"][rule] = {"square_crc32": blob.add(square)["crc32"], **blob.add(x)}
        doc["v1"].append(case)
    for src, oh, ow, color, centering in PAD_CASES:
        if isinstance(src, str):
            with Image.open(os.path.join(IMAGES, src)) as im:
                img = im.convert("RGB")
            case = {"file": "images/" + src}
        else:
            kind, seed, h, w = src
            img = Image.fromarray(pattern(kind, seed, h, w))
            case = {"pattern": kind, "seed": seed, "h": h, "w": w}
        case.update({"out_h": oh, "out_w": ow, "color": list(color), "centering": list(centering), "expected": {}})
        for rule in RULES:
            out, (ch, cw) = image_ops_pad(img, ow, oh, color, centering, rule)
            case.update({"contain_h": ch, "contain_w": cw})
            case["expected"][rule] = blob.add(np.asarray(out))
        doc["pad"].append(case)
    return doc, bytes(blob.data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="recompute from the committed images and compare")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # Pillow warns about palette images with tRNS bytes
    ok, bad = make_images()
    if args.check:
        with open(os.path.join(OUT, "cases.json")) as f:
            old = json.load(f)
        ok_names = [(os.path.basename(c["file"]), c["what"]) for c in old["decode"]]
        bad_names = [(os.path.basename(c["file"]), c["what"]) for c in old["errors"]]
        doc, _ = compute(ok_names, bad_names)
        diffs = 0
        for section in ("decode", "resize", "v1", "pad"):
            for a, b in zip(old[section], doc[section]):
                if section == "decode":
                    same = a["crc32"] == b["crc32"]
                else:  # only the running release's results come from Pillow itself
                    rule = running_rule()
                    same = all(a["expected"][rule][k] == b["expected"][rule][k] for k in a["expected"][rule]
                               if k != "offset")
                if not same:
                    diffs += 1
                    print("differs:", section, {k: v for k, v in a.items() if k not in ("crc32", "offset", "expected")})
        print(f"Pillow {doc['pillow']} (libjpeg-turbo {doc['libjpeg_turbo']}) against fixtures from Pillow "
              f"{old['pillow']} (libjpeg-turbo {old['libjpeg_turbo']}): {diffs} difference(s)")
        return 1 if diffs else 0
    os.makedirs(IMAGES, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    for name, (data, _) in {**ok, **bad}.items():
        with open(os.path.join(IMAGES, name), "wb") as f:
            f.write(data)
    doc, data = compute([(n, w) for n, (_, w) in ok.items()], [(n, w) for n, (_, w) in bad.items()])
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "expected.bin"), "wb") as f:
        f.write(data)
    total = sum(len(d) for d, _ in {**ok, **bad}.values())
    print(f"wrote {len(ok) + len(bad)} images ({total} bytes), {len(doc['decode'])} decode, "
          f"{len(doc['resize'])} resize, {len(doc['v1'])} v1 and {len(doc['pad'])} pad cases ({len(data)} bytes stored)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
