// describe_image: the smallest program that answers a question about an image with DeepSeek-VL,
// using the library directly (docs/models.md walks through it).
//
//   describe_image MODEL_DIR IMAGE [PROMPT]
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <dsvl/dsvl.hpp>
#include <dsvl/io/image.hpp>

int main(int argc, char** argv) {
  using namespace dsvl;
  if (argc < 3) {
    std::cerr << "usage: describe_image MODEL_DIR IMAGE [PROMPT]\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::string question = argc > 3 ? argv[3] : "Describe this image.";
  try {
    using P = policies::HwyBF16;  // Highway kernels, bf16 weights (read in place), f32 activations
    const auto model = models::DeepSeekVL<P>::from_directory(dir);
    const auto tok = io::Tokenizer::from_file(dir / "tokenizer.json");
    const auto proc = vision::read_vlm_image_processor_config(dir / "preprocessor_config.json");

    const auto prompt = language::deepseek_vl::encode_prompt(
        tok, language::Conversation{}.user("<image_placeholder>" + question).assistant(), 1,
        static_cast<std::size_t>(model.num_image_tokens()));
    Tensor<float, 4> pixels({1, 3, proc.image_size, proc.image_size});
    vision::vlm_preprocess(io::read_image(argv[2]).view(), proc, pixels.view()[0]);

    const auto image_embeds = model.encode_images(pixels.view());                           // (576, D)
    const auto x = model.embed(prompt.input_ids, prompt.image_token_id, image_embeds.view());  // (T, D)
    auto cache = model.language_model().make_cache(x.shape(0) + 256);
    std::vector<std::int32_t> history = prompt.input_ids;
    language::Sampler greedy;
    io::Detokenizer detok(tok, /*skip_special_tokens=*/true);
    language::generate(model.language_model(), x.view(), cache, history,
                       {256, language::deepseek_vl::stop_token_ids(tok)}, greedy, [&](std::int32_t id) {
                         if (tok.id_to_token(id)) std::cout << detok.push(id) << std::flush;
                         return true;
                       });
    std::cout << detok.finish() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "describe_image: " << e.what() << "\n";
    return 1;
  }
}
