// `dsvl ocr`: pages (PNG, JPEG, and PDF when built with poppler-cpp) to Markdown or JSON with a
// DeepSeek-OCR model directory, through the model shell's generic API; docs/ocr.md.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "dsvl/io/image.hpp"
#include "dsvl/io/output.hpp"
#include "dsvl/language/document.hpp"
#include "dsvl/language/generate.hpp"
#include "dsvl/models/model.hpp"
#include "dsvl/vision/draw.hpp"
#include "dsvl/vision/figures.hpp"
#include "model_commands.hpp"
#ifdef DSVL_TOOL_WITH_PDF
#include "pdf_pages.hpp"
#endif

namespace dsvl::tool {

// The official prompt for a document with its layout (DeepSeek-OCR's config.py).
inline constexpr std::string_view kOcrPrompt = "<image>\n<|grounding|>Convert the document to markdown.";
// Between the pages of a run on stdout, as the official run_dpsk_ocr_pdf.py joins them.
inline constexpr std::string_view kPageSplit = "\n\n<--- Page Split --->\n";

// One page to read: an image file, or page `pdf_page` (from 0) of a PDF.
struct OcrPage {
  std::filesystem::path file;
  int pdf_page = -1;
  std::string name;  // the file's stem, "-<n>" for PDF page n from 1: outputs in a folder use it
};

inline bool is_pdf(const std::filesystem::path& file) {
  char head[5] = {};
  std::ifstream in(file, std::ios::binary);
  return in.read(head, 5) && std::string_view(head, 5) == "%PDF-";
}

// The pages of the run, in order; every file must exist.
inline std::vector<OcrPage> ocr_pages(const std::vector<std::string>& files) {
  std::vector<OcrPage> pages;
  for (const auto& f : files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(f, ec)) fail(f, "is not a file (dsvl ocr reads PNG, JPEG or PDF pages)");
    const std::string stem = std::filesystem::path(f).stem().string();
    if (!is_pdf(f)) {
      pages.push_back({f, -1, stem});
      continue;
    }
#ifdef DSVL_TOOL_WITH_PDF
    const int n = PdfPages(f).count();
    for (int i = 0; i < n; ++i) pages.push_back({f, i, stem + "-" + std::to_string(i + 1)});
#else
    fail(f, "is a PDF, and this dsvl was built without poppler-cpp; render its pages first, e.g. pdftoppm -r 144 -png ",
         f, " page");
#endif
  }
  return pages;
}

inline Tensor<std::uint8_t, 3> read_page(const OcrPage& page) {
#ifdef DSVL_TOOL_WITH_PDF
  if (page.pdf_page >= 0) return PdfPages(page.file).render(page.pdf_page);
#endif
  return io::read_image(page.file);
}

// Where one page's output goes: `flag`'s path itself, or <path>/<name><ext> when the path is a
// folder (an existing one, one ending in '/', or any path for several pages).
inline std::filesystem::path page_output(const std::string& path, const OcrPage& page, std::size_t pages,
                                         std::string_view ext) {
  std::error_code ec;
  const bool folder = pages > 1 || path.ends_with('/') || std::filesystem::is_directory(path, ec);
  return folder ? std::filesystem::path(path) / (page.name + std::string(ext)) : std::filesystem::path(path);
}

// `file` as a link from a Markdown file in `from` (a relative path when there is one).
inline std::string link_from(const std::filesystem::path& from, const std::filesystem::path& file) {
  const auto abs = [](const std::filesystem::path& p) { return std::filesystem::absolute(p).lexically_normal(); };
  const std::filesystem::path rel = abs(file).lexically_relative(abs(from));
  return (rel.empty() ? abs(file) : rel).generic_string();
}

inline int ocr(const Options& o) {
  namespace fs = std::filesystem;
  if (o.positional.empty()) fail("dsvl ocr", "no page given (dsvl ocr --model DIR PAGE...)");
  if (o.model.empty()) fail("dsvl ocr", "--model DIR is required");
  const std::vector<OcrPage> pages = ocr_pages(o.positional);
  const std::size_t n = pages.size();
  if (n == 0) fail("dsvl ocr", "the PDF files have no pages");

  // Every output is planned, and refused when it would replace an input, before the model loads.
  std::vector<fs::path> inputs = models::model_files(o.model);
  inputs.insert(inputs.end(), o.positional.begin(), o.positional.end());
  const std::string ext = o.format == "json" ? ".json" : ".md";
  std::vector<fs::path> outs, drawn;
  for (const auto& page : pages) {
    if (!o.out.empty()) outs.push_back(page_output(o.out, page, n, ext));
    if (!o.draw_boxes.empty()) drawn.push_back(page_output(o.draw_boxes, page, n, ".png"));
  }
  for (const auto* list : {&outs, &drawn})
    for (std::size_t i = 0; i < list->size(); ++i) {
      io::refuse_input((*list)[i], inputs, list == &outs ? "--out" : "--draw-boxes");
      for (std::size_t j = 0; j < i; ++j)
        if ((*list)[j] == (*list)[i])
          fail("dsvl ocr", "pages ", pages[j].file.string(), " and ", pages[i].file.string(), " would both write ",
               (*list)[i].string(), "; give them different names");
    }
  if (!o.crop_figures.empty()) io::refuse_input(o.crop_figures, inputs, "--crop-figures");
  const auto write_to = [](const fs::path& file) -> const fs::path& {
    if (file.has_parent_path()) fs::create_directories(file.parent_path());
    return file;
  };

  const models::Model model = open_model(o, "ocr");
  const io::Tokenizer& tok = model.tokenizer();
  const auto stop = model.stop_ids();
  // The official decoding (run_dpsk_ocr_image.py): greedy, with the no-repeat 30-gram rule over the
  // answer's last 90 tokens, <td> and </td> exempt (those the tokenizer has); an answer that loops
  // stops (GenerateOptions::loop's defaults).
  models::GenerateOptions options;
  options.max_new_tokens = o.max_new_tokens > 0 ? o.max_new_tokens : 8192;
  options.sampling.no_repeat_ngram = {30, 90, {}};
  for (const char* cell : {"<td>", "</td>"})
    if (const auto id = tok.token_to_id(cell)) options.sampling.no_repeat_ngram.whitelist_token_ids.push_back(*id);
  options.kv_cache = o.kv_cache;
  const bool progress = ::isatty(STDERR_FILENO) != 0;  // a count of the tokens so far, on a terminal
  for (std::size_t p = 0; p < n; ++p) {
    const OcrPage& page = pages[p];
    const Tensor<std::uint8_t, 3> rgb = read_page(page);
    const int W = static_cast<int>(rgb.shape(1)), H = static_cast<int>(rgb.shape(0));
    models::Request request;
    request.raw_prompt = o.prompt.empty() ? std::string(kOcrPrompt) : o.prompt;
    request.images.push_back(models::RequestImage::from_rgb(rgb.clone()));
    request.image_mode = o.mode;
    const auto t0 = Clock::now();
    const models::Prompt prompt = model.encode(request);
    std::vector<std::int32_t> answer;
    const auto g = model.generate(prompt, options, [&](std::int32_t id) {
      if (std::find(stop.begin(), stop.end(), id) == stop.end() && tok.id_to_token(id)) answer.push_back(id);
      if (progress && answer.size() % 16 == 0) std::fprintf(stderr, "\rpage %zu/%zu: %zu tokens", p + 1, n, answer.size());
      return true;
    });
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (g.reason == language::StopReason::loop)
      std::fprintf(stderr, "page %zu/%zu: stopped, the answer repeats a %lld-token span over its last %lld tokens\n",
                   p + 1, n, static_cast<long long>(g.loop.period), static_cast<long long>(g.loop.tokens));
    const language::Document doc = language::parse_document(tok.decode(answer), W, H);

    std::vector<std::string> links;
    if (!o.crop_figures.empty()) {
      const std::string prefix = n > 1 ? std::to_string(p) + "_" : "";
      const fs::path from = outs.empty() ? fs::path(".") : outs[p].parent_path();
      for (const auto& file : vision::write_figures(rgb.view(), doc, o.crop_figures, prefix, inputs))
        links.push_back(link_from(from, file));
    }
    const std::string text =
        o.format == "json" ? language::render_json(doc, links) + "\n" : language::render_markdown(doc, links);
    if (!outs.empty()) {
      io::write_file(write_to(outs[p]), text);
    } else {
      if (o.format == "md" && p > 0) std::cout << kPageSplit;
      std::cout << text << (o.format == "md" && p + 1 == n ? "\n" : "") << std::flush;
    }
    if (!drawn.empty()) {
      Tensor<std::uint8_t, 3> canvas = rgb.clone();
      vision::draw_document(canvas.view(), doc);
      io::write_png(write_to(drawn[p]), std::as_const(canvas).view());
    }
    for (const auto& problem : doc.problems)
      std::cerr << page.file.string() << (page.pdf_page >= 0 ? " page " + std::to_string(page.pdf_page + 1) : "")
                << ": " << language::to_string(problem) << "\n";
    std::fprintf(stderr, "page %zu/%zu (%s, %dx%d): %zu tokens in %.1f s, %zu blocks, %zu figures, %zu problems%s\n",
                 p + 1, n, page.name.c_str(), W, H, g.tokens.size(), seconds_since(t0), doc.blocks.size(),
                 doc.figure_count(), doc.problems.size(), outs.empty() ? "" : (", wrote " + outs[p].string()).c_str());
  }
  return 0;
}

inline const std::vector<Command>& ocr_commands() {
  static const std::vector<Command> commands = {
      {"ocr", "pages to Markdown or JSON with a DeepSeek-OCR model directory",
       "Reads each PAGE (a PNG or JPEG image, or a PDF whose pages are rendered at 144 dpi when dsvl is built with "
       "poppler-cpp) with the model, decoding as the official script does (greedy, no repeated 30-gram in the last "
       "90 tokens but <td> and </td>; an answer that loops stops), prompted with --prompt (default \"<image>\\n<|grounding|>Convert the "
       "document to markdown.\", written as is: no chat template), and writes one document per page: Markdown as "
       "the official script writes it, or JSON with each block's label, boxes in the page's pixels and text "
       "(docs/ocr.md). Output goes to stdout (pages split by '<--- Page Split --->', or one JSON line each) or to "
       "--out: a file for one page, a folder (made if absent) of NAME.md or NAME.json for several, NAME the page's "
       "file name without its extension (-N for page N of a PDF). --draw-boxes takes a file or a folder likewise. "
       "No output may replace an input.",
       {"--model", "--prompt", "--format", "--out", "--crop-figures", "--draw-boxes", "--mode", "--max-new-tokens",
        "--weights", "--vision-weights", "--kv-cache"},
       ocr,
       "PAGE..."},
  };
  return commands;
}

}  // namespace dsvl::tool
