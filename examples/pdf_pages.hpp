// The pages of a PDF file as RGB images, for `dsvl ocr`, rendered by poppler-cpp (the renderer of
// pdftoppm): at 144 dpi, as the official run_dpsk_ocr_pdf.py renders them with PyMuPDF (zoom 2),
// antialiased, each side rounded up as PyMuPDF rounds it. Built only when CMake finds poppler-cpp
// (DSVL_TOOL_WITH_PDF).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>

#include <poppler-document.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/io/image.hpp"

namespace dsvl::tool {

class PdfPages {
 public:
  static constexpr double kDpi = 144.0;

  explicit PdfPages(const std::filesystem::path& file) : where_(file.string()) {
    doc_.reset(poppler::document::load_from_file(where_));
    if (!doc_) fail(where_, "cannot read this PDF");
    if (doc_->is_locked()) fail(where_, "the PDF is encrypted");
  }

  int count() const { return doc_->pages(); }

  // Page `index` (from 0) as RGB [H, W, 3]. Errors: a page over io::kDefaultMaxImagePixels pixels,
  // a page poppler cannot render.
  Tensor<std::uint8_t, 3> render(int index) const {
    const std::unique_ptr<poppler::page> page(doc_->create_page(index));
    if (!page) fail(where_, "cannot read page ", index + 1);
    const poppler::rectf box = page->page_rect();  // the crop box, before the page's rotation
    const bool turned = page->orientation() == poppler::page::landscape || page->orientation() == poppler::page::seascape;
    const auto px = [](double points) { return static_cast<std::int64_t>(std::ceil(points * kDpi / 72.0 - 1e-3)); };
    const std::int64_t W = px(turned ? box.height() : box.width()), H = px(turned ? box.width() : box.height());
    if (W <= 0 || H <= 0 || W > io::kDefaultMaxImagePixels / H)
      fail(where_, "page ", index + 1, " would be ", W, "x", H, " pixels at 144 dpi");
    poppler::page_renderer renderer;
    renderer.set_render_hints(poppler::page_renderer::antialiasing | poppler::page_renderer::text_antialiasing);
    renderer.set_image_format(poppler::image::format_rgb24);
    const poppler::image im = renderer.render_page(page.get(), kDpi, kDpi, 0, 0, static_cast<int>(W), static_cast<int>(H));
    if (!im.is_valid() || im.width() != W || im.height() != H) fail(where_, "cannot render page ", index + 1);
    Tensor<std::uint8_t, 3> rgb({H, W, 3});
    for (std::int64_t y = 0; y < H; ++y)
      std::memcpy(rgb.data() + y * W * 3, im.const_data() + y * im.bytes_per_row(), static_cast<std::size_t>(W) * 3);
    return rgb;
  }

 private:
  std::string where_;
  std::unique_ptr<poppler::document> doc_;
};

}  // namespace dsvl::tool
