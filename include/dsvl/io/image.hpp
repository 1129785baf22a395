#pragma once
// Reading PNG and JPEG images into 8-bit RGB, [H, W, 3] uint8 (rows top to bottom, R G B per
// pixel), with the values that PIL.Image.open(path).convert("RGB") gives: the loader of both
// DeepSeek-VL and DeepSeek-VL2. Also writing such images as PNG (see "Writing" below).
//
// This header needs libpng and libjpeg (libjpeg-turbo for JPEG values equal to Pillow's): link
// the CMake target dsvl::image, which adds them (dsvl::dsvl does not).
//
// Formats are recognised by their first bytes, not by the file name.
//  - PNG, every colour type and bit depth, interlaced or not:
//      gray 1/2/4/8 bit: v scaled to 0..255 (times 255, 85, 17, 1), copied to R, G and B;
//      gray 16 bit: min(v, 255) (Pillow opens it as mode "I;16", whose conversion to RGB clips
//        rather than scales: a 16-bit gray image that uses its range reads as mostly white);
//      RGB, gray + alpha, RGBA 16 bit: the high byte of each sample;
//      palette 1/2/4/8 bit: the PLTE colour, black for an index past the end of PLTE;
//      alpha (an alpha channel or tRNS) is dropped, not composited: a transparent pixel keeps
//      its stored colour.
//    gAMA, cHRM, sRGB, iCCP and sBIT do not change the values (Pillow ignores them too). An APNG
//    reads as its default image. A missing IEND is accepted.
//  - JPEG, baseline or progressive (Huffman or, where the library has it, arithmetic coded), 8-bit
//    samples, 1 component (gray, copied to R, G and B), 3 (YCbCr or RGB) or 4 (CMYK or YCCK).
//    Decoded as Pillow does: libjpeg's defaults (JDCT_ISLOW, fancy upsampling, block smoothing),
//    output in RGB, gray or CMYK; CMYK is taken as Adobe-inverted and converted with Pillow's
//    formula (nk = 255 - k; c' = nk - (c*nk)/255 rounded, for c = 255 - stored). Corrupt-data
//    warnings are ignored (the damaged blocks decode as libjpeg fills them), as in Pillow. The
//    EXIF orientation is not applied (Pillow's open does not apply it either).
//    With libjpeg-turbo (which Pillow's wheels bundle) the bytes equal Pillow's; another libjpeg
//    may round the IDCT or the upsampling differently.
//  - Anything else (GIF, BMP, WebP, TIFF, ...; 12-bit or 2-component JPEG) is a dsvl::Error.
//
// Limits and errors: every problem is a dsvl::Error whose where() is the file (or the name given
// to decode_image): a file that cannot be opened or is empty, an unknown or unsupported format,
// data that ends early ("truncated"), a zero width or height, or more than `max_pixels` pixels.
// The pixel limit is checked from the header, before any pixel memory is allocated; its default is
// Pillow's: PIL refuses images over 2 * Image.MAX_IMAGE_PIXELS = 178956970 pixels
// (DecompressionBombError). libpng's and libjpeg's errors are caught with setjmp/longjmp inside
// small functions that hold no C++ objects, then turned into exceptions, so nothing leaks.
//
// Writing: encode_png / write_png store an RGB8 view [H, W, 3] as an 8-bit RGB PNG (no alpha, not
// interlaced, zlib's default compression), which read_image reads back unchanged. Errors are
// dsvl::Error whose where() is the file (or the name given to encode_png): an empty image or one
// that is not [H, W, 3], a file that cannot be created or written, a libpng error.

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/io/output.hpp"

namespace dsvl::io {

// Pillow's decompression-bomb error threshold, 2 * PIL.Image.MAX_IMAGE_PIXELS.
inline constexpr std::int64_t kDefaultMaxImagePixels = 2 * (1024LL * 1024 * 1024 / 4 / 3);

struct ImageReadOptions {
  // Images with more pixels (width * height) are refused before their pixels are decoded.
  std::int64_t max_pixels = kDefaultMaxImagePixels;
};

namespace detail {

// ---- format recognition ----------------------------------------------------------------------

enum class ImageKind { png, jpeg, unknown };

inline bool starts_with(std::span<const std::uint8_t> b, std::size_t at, const char* magic, std::size_t n) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

inline ImageKind sniff_image(std::span<const std::uint8_t> b) {
  if (starts_with(b, 0, "\x89PNG\r\n\x1a\n", 8)) return ImageKind::png;
  if (starts_with(b, 0, "\xff\xd8\xff", 3)) return ImageKind::jpeg;
  return ImageKind::unknown;
}

// A sentence for data that is neither PNG nor JPEG.
inline std::string unsupported_format(std::span<const std::uint8_t> b) {
  const char* name = nullptr;
  if (starts_with(b, 0, "GIF87a", 6) || starts_with(b, 0, "GIF89a", 6)) name = "GIF";
  else if (starts_with(b, 0, "BM", 2)) name = "BMP";
  else if (starts_with(b, 0, "RIFF", 4) && starts_with(b, 8, "WEBP", 4)) name = "WebP";
  else if (starts_with(b, 0, "II*\0", 4) || starts_with(b, 0, "MM\0*", 4)) name = "TIFF";
  else if (starts_with(b, 0, "\0\0\0\x0cjP  \r\n\x87\n", 12) || starts_with(b, 0, "\xff\x4f\xff\x51", 4)) name = "JPEG 2000";
  else if (starts_with(b, 4, "ftypavif", 8) || starts_with(b, 4, "ftypavis", 8)) name = "AVIF";
  else if (starts_with(b, 4, "ftyphei", 7) || starts_with(b, 4, "ftypmif1", 8)) name = "HEIF";
  else if (starts_with(b, 0, "qoif", 4)) name = "QOI";
  else if (starts_with(b, 0, "8BPS", 4)) name = "PSD";
  else if (starts_with(b, 0, "\0\0\1\0", 4)) name = "ICO";
  else if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') name = "PNM";
  if (name) return dsvl::detail::concat(name, " images are not supported (dsvl reads PNG and JPEG)");
  std::string hex;
  static const char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 8); ++i) {
    if (i) hex += ' ';
    hex += digits[b[i] >> 4];
    hex += digits[b[i] & 15];
  }
  return dsvl::detail::concat("not a PNG or JPEG image (unknown format; the data starts with ", hex, ")");
}

inline void check_pixels(std::int64_t w, std::int64_t h, const ImageReadOptions& opt, const std::string& where,
                         const char* format) {
  if (w <= 0 || h <= 0) fail(where, "the ", format, " image is empty (", w, "x", h, ")");
  if (w > opt.max_pixels / h)
    fail(where, "the ", format, " image is ", w, "x", h, " = ", w * h, " pixels, over the limit of ", opt.max_pixels,
         " (ImageReadOptions::max_pixels)");
}

// ---- PNG ---------------------------------------------------------------------------------------

// Everything libpng's callbacks touch: trivially destructible, so a longjmp over it is defined.
struct PngState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0, pos = 0;
  bool truncated = false;
  char message[256] = {};
  char warning[256] = {};  // the last warning, which often says why an error follows
};

inline void png_on_error(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}
inline void png_on_warning(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->warning, sizeof s->warning, "%s", msg ? msg : "");
}
inline void png_on_read(png_structp png, png_bytep out, std::size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) {
    s->truncated = true;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

// Each step arms the jump buffer, calls libpng and reports whether it returned normally.
inline bool png_step_read_info(PngState& s) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  png_read_info(s.png, s.info);
  return true;
}
inline bool png_step_update_info(PngState& s, int bit_depth, int* passes) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  if (bit_depth < 8) png_set_packing(s.png);  // one sample per byte, values unscaled
  *passes = png_set_interlace_handling(s.png);
  png_read_update_info(s.png, s.info);
  return true;
}
inline bool png_step_read_row(PngState& s, std::uint8_t* row) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  png_read_row(s.png, row, nullptr);
  return true;
}
inline bool png_step_read_image(PngState& s, std::uint8_t** rows) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  png_read_image(s.png, rows);
  return true;
}

class PngReader {
 public:
  PngReader(std::span<const std::uint8_t> bytes, const std::string& where) : where_(where) {
    s_.data = bytes.data();
    s_.size = bytes.size();
    s_.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s_, png_on_error, png_on_warning);
    if (!s_.png) fail(where_, "cannot create a PNG reader (out of memory)");
    s_.info = png_create_info_struct(s_.png);
    if (!s_.info) {
      png_destroy_read_struct(&s_.png, nullptr, nullptr);
      fail(where_, "cannot create a PNG reader (out of memory)");
    }
    png_set_read_fn(s_.png, &s_, png_on_read);
    // Sizes are limited by ImageReadOptions::max_pixels, not by libpng's default of 10^6 per side.
    png_set_user_limits(s_.png, 0x7fffffff, 0x7fffffff);
  }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;
  ~PngReader() { png_destroy_read_struct(&s_.png, &s_.info, nullptr); }

  Tensor<std::uint8_t, 3> read(const ImageReadOptions& opt) {
    // A zero size gets the same sentence as other formats (libpng says "Invalid IHDR data").
    if (s_.size >= 24 && std::memcmp(s_.data + 12, "IHDR", 4) == 0) {
      const auto be32 = [&](std::size_t at) {
        return std::int64_t{s_.data[at]} << 24 | std::int64_t{s_.data[at + 1]} << 16 | std::int64_t{s_.data[at + 2]} << 8 |
               std::int64_t{s_.data[at + 3]};
      };
      if (be32(16) == 0 || be32(20) == 0) check_pixels(be32(16), be32(20), opt, where_, "PNG");
    }
    if (!png_step_read_info(s_)) failed();
    png_uint_32 w = 0, h = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(s_.png, s_.info, &w, &h, &bit_depth, &color_type, &interlace, nullptr, nullptr);
    check_pixels(static_cast<std::int64_t>(w), static_cast<std::int64_t>(h), opt, where_, "PNG");
    std::array<std::uint8_t, 256 * 3> palette{};  // entries past PLTE stay black, as in Pillow
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
      png_colorp plte = nullptr;
      int n = 0;
      if (!png_get_PLTE(s_.png, s_.info, &plte, &n) || plte == nullptr) fail(where_, "PNG palette image without PLTE");
      for (int i = 0; i < std::min(n, 256); ++i) {
        palette[3 * i] = plte[i].red;
        palette[3 * i + 1] = plte[i].green;
        palette[3 * i + 2] = plte[i].blue;
      }
    }
    int passes = 1;
    if (!png_step_update_info(s_, bit_depth, &passes)) failed();
    const std::size_t rowbytes = png_get_rowbytes(s_.png, s_.info);
    const int channels = png_get_channels(s_.png, s_.info);
    const int depth = png_get_bit_depth(s_.png, s_.info);  // 8 or 16 after packing
    const std::int64_t W = w, H = h;
    Tensor<std::uint8_t, 3> out({H, W, 3});
    const auto convert = [&](const std::uint8_t* row, std::int64_t y) {
      convert_row(row, W, color_type, bit_depth, channels, depth, palette.data(), out.data() + y * W * 3);
    };
    if (passes == 1) {
      std::vector<std::uint8_t> row(rowbytes);
      for (std::int64_t y = 0; y < H; ++y) {
        if (!png_step_read_row(s_, row.data())) failed();
        convert(row.data(), y);
      }
    } else {
      std::vector<std::uint8_t> raw(rowbytes * static_cast<std::size_t>(H));
      std::vector<std::uint8_t*> rows(static_cast<std::size_t>(H));
      for (std::int64_t y = 0; y < H; ++y) rows[static_cast<std::size_t>(y)] = raw.data() + rowbytes * static_cast<std::size_t>(y);
      if (!png_step_read_image(s_, rows.data())) failed();
      for (std::int64_t y = 0; y < H; ++y) convert(rows[static_cast<std::size_t>(y)], y);
    }
    return out;
  }

 private:
  // One decoded row (samples after png_set_packing: one byte each below 8 bits, big-endian
  // pairs at 16 bits) -> RGB8, as Pillow's PNG modes convert to "RGB".
  static void convert_row(const std::uint8_t* in, std::int64_t w, int color_type, int bit_depth, int channels,
                          int depth, const std::uint8_t* palette, std::uint8_t* out) {
    const std::int64_t step = static_cast<std::int64_t>(channels) * (depth / 8);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
      for (std::int64_t x = 0; x < w; ++x, out += 3) std::memcpy(out, palette + 3 * in[x], 3);
    } else if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
      if (depth == 16 && color_type == PNG_COLOR_TYPE_GRAY) {
        for (std::int64_t x = 0; x < w; ++x, in += step, out += 3) {
          const unsigned v = (static_cast<unsigned>(in[0]) << 8) | in[1];
          out[0] = out[1] = out[2] = static_cast<std::uint8_t>(std::min(v, 255u));
        }
      } else {
        const unsigned scale = bit_depth == 1 ? 255 : bit_depth == 2 ? 85 : bit_depth == 4 ? 17 : 1;
        for (std::int64_t x = 0; x < w; ++x, in += step, out += 3)
          out[0] = out[1] = out[2] = static_cast<std::uint8_t>(in[0] * scale);
      }
    } else {  // RGB or RGBA: the first byte of each sample (the high byte at 16 bits)
      const std::int64_t sample = depth / 8;
      for (std::int64_t x = 0; x < w; ++x, in += step, out += 3) {
        out[0] = in[0];
        out[1] = in[sample];
        out[2] = in[2 * sample];
      }
    }
  }

  [[noreturn]] void failed() const {
    if (s_.truncated) fail(where_, "truncated PNG data (the file ends early)");
    if (s_.warning[0] != 0) fail(where_, "invalid PNG data: ", s_.message, " (", s_.warning, ")");
    fail(where_, "invalid PNG data: ", s_.message);
  }

  PngState s_;
  const std::string& where_;
};

// ---- JPEG --------------------------------------------------------------------------------------

struct JpegState {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_source_mgr src;
  std::jmp_buf jump;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  bool at_end = false;  // the decoder asked for data past the end
  bool created = false;
  char message[JMSG_LENGTH_MAX] = {};
};

inline JpegState* jpeg_state(j_common_ptr c) {
  // err is the first member read back by its address: recover the enclosing state.
  return reinterpret_cast<JpegState*>(reinterpret_cast<char*>(c->err) - offsetof(JpegState, err));
}
inline void jpeg_on_error(j_common_ptr c) {
  JpegState* s = jpeg_state(c);
  (*c->err->format_message)(c, s->message);
  std::longjmp(s->jump, 1);
}
inline void jpeg_on_message(j_common_ptr) {}

inline const JOCTET kJpegFakeEoi[2] = {0xFF, JPEG_EOI};
inline void jpeg_src_init(j_decompress_ptr) {}
inline void jpeg_src_term(j_decompress_ptr) {}
// Past the end: note it, and hand libjpeg an EOI marker so that it stops (its own memory source
// does the same, with a warning).
inline boolean jpeg_src_fill(j_decompress_ptr c) {
  jpeg_state(reinterpret_cast<j_common_ptr>(c))->at_end = true;
  c->src->next_input_byte = kJpegFakeEoi;
  c->src->bytes_in_buffer = 2;
  return TRUE;
}
inline void jpeg_src_skip(j_decompress_ptr c, long n) {
  if (n <= 0) return;
  while (n > static_cast<long>(c->src->bytes_in_buffer)) {
    n -= static_cast<long>(c->src->bytes_in_buffer);
    jpeg_src_fill(c);
  }
  c->src->next_input_byte += n;
  c->src->bytes_in_buffer -= static_cast<std::size_t>(n);
}

inline bool jpeg_step_create(JpegState& s) {
  if (setjmp(s.jump)) return false;
  jpeg_create_decompress(&s.cinfo);
  s.created = true;
  return true;
}
inline bool jpeg_step_header(JpegState& s) {
  if (setjmp(s.jump)) return false;
  jpeg_read_header(&s.cinfo, TRUE);
  return true;
}
inline bool jpeg_step_start(JpegState& s, J_COLOR_SPACE out_space) {
  if (setjmp(s.jump)) return false;
  s.cinfo.out_color_space = out_space;
  s.cinfo.dct_method = JDCT_ISLOW;
  s.cinfo.do_fancy_upsampling = TRUE;
  s.cinfo.do_block_smoothing = TRUE;
  s.cinfo.scale_num = 1;
  s.cinfo.scale_denom = 1;
  s.cinfo.quantize_colors = FALSE;
  jpeg_start_decompress(&s.cinfo);
  return true;
}
inline bool jpeg_step_read(JpegState& s, std::uint8_t* row) {
  if (setjmp(s.jump)) return false;
  JSAMPROW rows[1] = {row};
  if (jpeg_read_scanlines(&s.cinfo, rows, 1) == 1) return true;
  std::snprintf(s.message, sizeof s.message, "libjpeg returned no scanline");
  return false;
}
inline bool jpeg_step_finish(JpegState& s) {
  if (setjmp(s.jump)) return false;
  jpeg_finish_decompress(&s.cinfo);
  return true;
}

class JpegReader {
 public:
  JpegReader(std::span<const std::uint8_t> bytes, const std::string& where) : where_(where) {
    s_.data = bytes.data();
    s_.size = bytes.size();
    s_.cinfo.err = jpeg_std_error(&s_.err);
    s_.err.error_exit = jpeg_on_error;
    s_.err.output_message = jpeg_on_message;  // warnings are not printed (nor are they in Pillow)
    if (!jpeg_step_create(s_)) failed();
    s_.src.init_source = jpeg_src_init;
    s_.src.fill_input_buffer = jpeg_src_fill;
    s_.src.skip_input_data = jpeg_src_skip;
    s_.src.resync_to_restart = jpeg_resync_to_restart;
    s_.src.term_source = jpeg_src_term;
    s_.src.next_input_byte = s_.data;
    s_.src.bytes_in_buffer = s_.size;
    s_.cinfo.src = &s_.src;
  }
  JpegReader(const JpegReader&) = delete;
  JpegReader& operator=(const JpegReader&) = delete;
  ~JpegReader() {
    if (s_.created) jpeg_destroy_decompress(&s_.cinfo);
  }

  Tensor<std::uint8_t, 3> read(const ImageReadOptions& opt) {
    if (!jpeg_step_header(s_)) failed();
    const std::int64_t W = s_.cinfo.image_width, H = s_.cinfo.image_height;
    const int nc = s_.cinfo.num_components;
    if (nc != 1 && nc != 3 && nc != 4)
      fail(where_, "JPEG images with ", nc, " components are not supported (1, 3 or 4 are)");
    check_pixels(W, H, opt, where_, "JPEG");
    const J_COLOR_SPACE space = nc == 1 ? JCS_GRAYSCALE : nc == 3 ? JCS_RGB : JCS_CMYK;
    if (!jpeg_step_start(s_, space)) failed();
    if (s_.at_end) truncated();
    if (s_.cinfo.output_width != W || s_.cinfo.output_height != H || s_.cinfo.output_components != nc)
      fail(where_, "libjpeg decodes this JPEG to an unexpected size or layout");
    Tensor<std::uint8_t, 3> out({H, W, 3});
    std::vector<std::uint8_t> row(nc == 3 ? 0 : static_cast<std::size_t>(W * nc));
    for (std::int64_t y = 0; y < H; ++y) {
      std::uint8_t* dst = out.data() + y * W * 3;
      if (!jpeg_step_read(s_, nc == 3 ? dst : row.data())) failed();
      if (s_.at_end) truncated();
      if (nc == 1) {
        for (std::int64_t x = 0; x < W; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
      } else if (nc == 4) {
        cmyk_row(row.data(), W, dst);
      }
    }
    if (!jpeg_step_finish(s_)) failed();
    return out;
  }

 private:
  // Pillow's "CMYK;I" unpacking (each stored byte inverted) and cmyk2rgb:
  // nk = 255 - k, out = clip(nk - MULDIV255(c, nk)) with MULDIV255(a, b) = (t + (t >> 8)) >> 8,
  // t = a*b + 128.
  static void cmyk_row(const std::uint8_t* in, std::int64_t w, std::uint8_t* out) {
    for (std::int64_t x = 0; x < w; ++x, in += 4, out += 3) {
      const int nk = in[3];  // 255 - (255 - stored k)
      for (int c = 0; c < 3; ++c) {
        const int t = (255 - in[c]) * nk + 128;
        const int v = nk - (((t >> 8) + t) >> 8);
        out[c] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }

  [[noreturn]] void truncated() const { fail(where_, "truncated JPEG data (the file ends early)"); }
  [[noreturn]] void failed() const {
    if (s_.at_end) truncated();
    fail(where_, "invalid JPEG data: ", s_.message);
  }

  JpegState s_;
  const std::string& where_;
};

inline Tensor<std::uint8_t, 3> decode(std::span<const std::uint8_t> bytes, const std::string& where,
                                      const ImageReadOptions& opt) {
  if (bytes.empty()) fail(where, "the image file is empty");
  switch (sniff_image(bytes)) {
    case ImageKind::png: return PngReader(bytes, where).read(opt);
    case ImageKind::jpeg: return JpegReader(bytes, where).read(opt);
    case ImageKind::unknown: break;
  }
  fail(where, unsupported_format(bytes));
}

// ---- PNG writing -------------------------------------------------------------------------------

// Everything libpng's write callbacks touch: trivially destructible, as PngState.
struct PngWriteState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::vector<std::uint8_t>* out = nullptr;
  char message[256] = {};
};

inline void png_on_write_error(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}
inline void png_on_write_warning(png_structp, png_const_charp) {}
inline void png_on_write(png_structp png, png_bytep data, std::size_t n) {
  auto* s = static_cast<PngWriteState*>(png_get_io_ptr(png));
  bool ok = true;
  try {  // no exception may cross libpng's C frames: turn it into a libpng error
    s->out->insert(s->out->end(), data, data + n);
  } catch (...) {
    ok = false;
  }
  if (!ok) png_error(png, "out of memory while encoding");
}
inline void png_on_flush(png_structp) {}

inline bool png_step_write_info(PngWriteState& s, png_uint_32 w, png_uint_32 h) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  png_set_IHDR(s.png, s.info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(s.png, s.info);
  return true;
}
inline bool png_step_write_row(PngWriteState& s, const std::uint8_t* row) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  png_write_row(s.png, row);
  return true;
}
inline bool png_step_write_end(PngWriteState& s) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  png_write_end(s.png, nullptr);
  return true;
}

class PngWriter {
 public:
  PngWriter(std::vector<std::uint8_t>& out, const std::string& where) : where_(where) {
    s_.out = &out;
    s_.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s_, png_on_write_error, png_on_write_warning);
    if (!s_.png) fail(where_, "cannot create a PNG writer (out of memory)");
    s_.info = png_create_info_struct(s_.png);
    if (!s_.info) {
      png_destroy_write_struct(&s_.png, nullptr);
      fail(where_, "cannot create a PNG writer (out of memory)");
    }
    png_set_write_fn(s_.png, &s_, png_on_write, png_on_flush);
    png_set_user_limits(s_.png, 0x7fffffff, 0x7fffffff);  // PNG's own limit, not libpng's 10^6
  }
  PngWriter(const PngWriter&) = delete;
  PngWriter& operator=(const PngWriter&) = delete;
  ~PngWriter() { png_destroy_write_struct(&s_.png, &s_.info); }

  void write(View<const std::uint8_t, 3> rgb) {
    const std::int64_t H = rgb.shape(0), W = rgb.shape(1);
    if (rgb.shape(2) != 3) fail(where_, "cannot write a PNG from ", rgb.shape(2), " channels (RGB [H, W, 3] is needed)");
    if (W <= 0 || H <= 0) fail(where_, "cannot write an empty PNG image (", W, "x", H, ")");
    if (W > 0x7fffffff || H > 0x7fffffff) fail(where_, "the image is ", W, "x", H, ", over PNG's limit of 2^31-1 per side");
    if (!png_step_write_info(s_, static_cast<png_uint_32>(W), static_cast<png_uint_32>(H))) failed();
    std::vector<std::uint8_t> row(static_cast<std::size_t>(W) * 3);
    for (std::int64_t y = 0; y < H; ++y) {
      const auto r = rgb[y];  // (W, 3), any strides
      for (std::int64_t x = 0; x < W; ++x)
        for (std::int64_t c = 0; c < 3; ++c) row[static_cast<std::size_t>(3 * x + c)] = r(x, c);
      if (!png_step_write_row(s_, row.data())) failed();
    }
    if (!png_step_write_end(s_)) failed();
  }

 private:
  [[noreturn]] void failed() const { fail(where_, "libpng error while writing PNG: ", s_.message); }

  PngWriteState s_;
  const std::string& where_;
};

}  // namespace detail

// Encodes an RGB8 image [H, W, 3] (any strides) as an 8-bit RGB PNG, in memory. `name` is the
// where() of every error.
inline std::vector<std::uint8_t> encode_png(View<const std::uint8_t, 3> rgb, const std::string& name = "io::encode_png") {
  std::vector<std::uint8_t> out;
  detail::PngWriter(out, name).write(rgb);
  return out;
}

// Writes an RGB8 image [H, W, 3] (any strides) to `path` as an 8-bit RGB PNG, atomically
// (io/output.hpp): the file is replaced only by a complete image.
inline void write_png(const std::filesystem::path& path, View<const std::uint8_t, 3> rgb) {
  const std::vector<std::uint8_t> bytes = encode_png(rgb, path.string());
  AtomicFile out(path);
  out.write(std::as_bytes(std::span(bytes)));
  out.commit();
}

// The image libraries this header was compiled against, e.g. "libpng 1.6.39, libjpeg-turbo 2.1.5"
// (JPEG values equal Pillow's only with libjpeg-turbo).
inline std::string image_libraries() {
  std::string s = "libpng " PNG_LIBPNG_VER_STRING;
#if defined(LIBJPEG_TURBO_VERSION_NUMBER)
  constexpr int v = LIBJPEG_TURBO_VERSION_NUMBER;
  s += dsvl::detail::concat(", libjpeg-turbo ", v / 1000000, ".", v / 1000 % 1000, ".", v % 1000);
#else
  s += dsvl::detail::concat(", libjpeg (API version ", JPEG_LIB_VERSION, ")");
#endif
  return s;
}

// Decodes a PNG or JPEG image held in memory into RGB [H, W, 3] uint8. `name` (a file name, a URL)
// is the where() of every error.
inline Tensor<std::uint8_t, 3> decode_image(std::span<const std::uint8_t> bytes, const std::string& name,
                                            const ImageReadOptions& options = {}) {
  return detail::decode(bytes, name, options);
}

// Reads a PNG or JPEG file into RGB [H, W, 3] uint8, as PIL.Image.open(path).convert("RGB").
inline Tensor<std::uint8_t, 3> read_image(const std::filesystem::path& path, const ImageReadOptions& options = {}) {
  const std::string where = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(where, "is a directory, not an image file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(where, "cannot open image file");
  const std::streamoff size = in.tellg();
  if (size < 0) fail(where, "cannot read image file");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(where, "error while reading image file");
  return detail::decode(bytes, where, options);
}

}  // namespace dsvl::io
