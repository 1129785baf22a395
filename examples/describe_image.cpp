// describe_image: the smallest program that answers a question about an image, with any
// DeepSeek-VL or DeepSeek-VL2 model directory, through the model shell (docs/models.md walks
// through it).
//
//   describe_image MODEL_DIR IMAGE [PROMPT]
#include <cstdint>
#include <iostream>
#include <string>

#include <dsvl/models/model.hpp>
#include <dsvl/io/detokenizer.hpp>

int main(int argc, char** argv) {
  using namespace dsvl::models;
  if (argc < 3) {
    std::cerr << "usage: describe_image MODEL_DIR IMAGE [PROMPT]\n";
    return 2;
  }
  try {
    const Model model = open_model(argv[1]);  // weights as stored (bf16 read in place), Highway kernels
    const Prompt prompt = model.encode(Request::ask(argc > 3 ? argv[3] : "Describe this image.",
                                                    {RequestImage::from_file(argv[2])}));
    dsvl::io::Detokenizer detok(model.tokenizer(), /*skip_special_tokens=*/true);
    model.generate(prompt, {.max_new_tokens = 256}, [&](std::int32_t id) {
      if (model.tokenizer().id_to_token(id)) std::cout << detok.push(id) << std::flush;  // ids past the vocabulary have no text
      return true;
    });
    std::cout << detok.finish() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "describe_image: " << e.what() << "\n";
    return 1;
  }
}
