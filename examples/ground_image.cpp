// ground_image: finds what a phrase names in an image with a model that has grounding tokens
// (DeepSeek-VL2; a DeepSeek-VL directory gets the processor's error), through the model shell
// (docs/models.md walks through it): the answer's <|det|> boxes are printed in pixels and drawn
// into OUT.png.
//
//   ground_image MODEL_DIR IMAGE PHRASE [OUT.png]
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <dsvl/io/image.hpp>
#include <dsvl/language/grounding.hpp>
#include <dsvl/models/model.hpp>
#include <dsvl/vision/draw.hpp>

int main(int argc, char** argv) {
  using namespace dsvl;
  if (argc < 4) {
    std::cerr << "usage: ground_image MODEL_DIR IMAGE PHRASE [OUT.png]\n";
    return 2;
  }
  try {
    const models::Model model = models::open_model(argv[1]);
    auto rgb = io::read_image(argv[2]);
    auto request = models::Request::ask("<|ref|>" + std::string(argv[3]) + "<|/ref|>.",
                                        {models::RequestImage::from_rgb(rgb.clone())});
    request.grounding = true;  // a grounded answer; the <|ref|> already asks, so no <|grounding|> is added
    const auto prompt = model.encode(request);
    std::vector<std::int32_t> answer;
    const auto stop = model.stop_ids();
    model.generate(prompt, {.max_new_tokens = 128}, [&](std::int32_t id) {
      if (id != stop.front() && model.tokenizer().id_to_token(id)) answer.push_back(id);
      return true;
    });

    const std::string text = model.tokenizer().decode(answer);  // with <|ref|>, <|det|> and their boxes
    std::cout << text << "\n";
    const auto g = language::parse_grounding(text, static_cast<int>(rgb.shape(1)), static_cast<int>(rgb.shape(0)));
    for (const auto& b : g.boxes)
      std::cout << g.label(b) << ": [" << b.pixels.x1 << ", " << b.pixels.y1 << ", " << b.pixels.x2 << ", "
                << b.pixels.y2 << "]\n";
    if (argc > 4) {
      vision::draw_grounding(rgb.view(), g);
      io::write_png(argv[4], std::as_const(rgb).view());
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "ground_image: " << e.what() << "\n";
    return 1;
  }
}
