// ground_image: DeepSeek-VL2 finds what a phrase names in an image, using the library directly
// (docs/models.md walks through it): the image is tiled, the answer's <|det|> boxes are printed in
// pixels and drawn into OUT.png.
//
//   ground_image MODEL_DIR IMAGE PHRASE [OUT.png]
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <dsvl/dsvl.hpp>
#include <dsvl/io/image.hpp>

int main(int argc, char** argv) {
  using namespace dsvl;
  if (argc < 4) {
    std::cerr << "usage: ground_image MODEL_DIR IMAGE PHRASE [OUT.png]\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  try {
    using P = policies::HwyBF16;  // Highway kernels, bf16 weights (read in place), f32 activations
    const auto model = models::DeepSeekVL2<P>::from_directory(dir);
    const auto tok = io::Tokenizer::from_file(dir / "tokenizer.json");
    const auto proc = vision::read_vl2_image_processor_config(dir / "processor_config.json");

    auto rgb = io::read_image(argv[2]);
    const auto tiles = vision::tile_image(std::as_const(rgb).view(), proc, vision::cropping_enabled(1));
    const auto prompt = language::deepseek_vl2::encode_prompt(
        tok, language::Conversation{}.user("<image>\n<|ref|>" + std::string(argv[3]) + "<|/ref|>.").assistant(),
        {static_cast<std::size_t>(model.image_token_count(tiles.width_tiles, tiles.height_tiles))});

    const auto tokens = model.encode_tiles(vision::tile_pixel_values(tiles, proc).view());  // (tiles, 196, D)
    const auto image = model.image_embeddings(tokens.view(), tiles.width_tiles, tiles.height_tiles);
    const auto x = model.embed(prompt.input_ids, prompt.image_token_id, image.view());     // (T, D)
    auto cache = model.language_model().make_cache(x.shape(0) + 128);
    std::vector<std::int32_t> history = prompt.input_ids, answer;
    language::Sampler greedy;
    const auto stop = language::deepseek_vl2::stop_token_ids(tok);
    language::generate(model.language_model(), x.view(), cache, history, {128, stop}, greedy, [&](std::int32_t id) {
      if (id != stop.front() && tok.id_to_token(id)) answer.push_back(id);
      return true;
    });

    const std::string text = tok.decode(answer);  // with <|ref|>, <|det|> and their boxes
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
