// The processors of the model shell (models/deepseek_vl_processor.hpp, models/deepseek_vl2_processor.hpp)
// against the official processors' outputs in the parity fixtures: input ids, image spans, each
// image's tile grid (images_spatial_crop) and pixel values; the Request conveniences (an image tag
// per image when the conversation has none, the grounding switch, the generation prompt, a raw
// prompt) and the errors of a request whose tags and images disagree. Exact: ids are integers and
// the pixel values are computed the same way as the model tests' reference path.

#include <doctest/doctest.h>

#if DSVL_WITH_IMAGE  // requests may name image files: the processors need dsvl::image
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dsvl/language/chat_format.hpp"
#include "dsvl/models/deepseek_vl2_config.hpp"
#include "dsvl/models/deepseek_vl2_processor.hpp"
#include "dsvl/models/deepseek_vl_config.hpp"
#include "dsvl/models/deepseek_vl_processor.hpp"
#include "reference_fixture.hpp"

using namespace dsvl;
using models::Request;
using models::RequestImage;

namespace {

namespace fs = std::filesystem;
const fs::path kVL = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl";
const fs::path kVL2 = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl2";

std::vector<std::int32_t> ids_of(const test::ReferenceFile& ref, const std::string& name) {
  const auto v = ref.i64(name);
  return {v.begin(), v.end()};
}

models::DeepSeekVL2Processor vl2_processor(const fs::path& dir) {
  return models::DeepSeekVL2Processor::from_directory(dir, models::read_deepseek_vl2_config(dir),
                                                      vision::PillowVersion::before_12_2);
}

}  // namespace

TEST_CASE("DeepSeekVL2Processor gives the official ids, grids and tiles, and the Request's conveniences") {
  const fs::path dir = kVL2 / "tiny-mha";
  const test::ReferenceFile ref(dir / "reference.safetensors");
  const auto processor = vl2_processor(dir);

  // The "tiles" case with the tag written, and with the tag left to the convenience ("<image>\n" first).
  Request tagged;
  tagged.conversation.user("<image>\nDescribe this picture in detail.");
  tagged.images.push_back(RequestImage::from_file(kVL2 / "image_a.png"));
  const auto in = processor(tagged);
  CHECK(in.input_ids == ids_of(ref, "tiles.input_ids"));
  REQUIRE(in.images.size() == 1);
  CHECK(in.images[0] == models::ImageGrid{3, 2});  // images_spatial_crop (3, 2)
  CHECK(in.image_sizes[0] == std::array<std::int64_t, 2>{290, 200});
  CHECK(in.pixel_values.shape(0) == 7);
  REQUIRE(in.image_spans.size() == 1);
  CHECK(in.image_spans[0].length == static_cast<std::size_t>(vision::image_token_count(4, 3, 2)));
  const auto untagged = processor(Request::ask("Describe this picture in detail.", {RequestImage::from_file(kVL2 / "image_a.png")}));
  CHECK(untagged.input_ids == in.input_ids);

  // Decoded pixels give what the file gives.
  const auto from_rgb = processor(Request::ask("Describe this picture in detail.",
                                               {RequestImage::from_rgb(io::read_image(kVL2 / "image_a.png"))}));
  CHECK(from_rgb.input_ids == in.input_ids);
  std::int64_t differ = 0;
  for (std::int64_t i = 0; i < in.pixel_values.size(); ++i) differ += in.pixel_values.data()[i] != from_rgb.pixel_values.data()[i];
  CHECK(differ == 0);

  // Three images: no cropping, one local tile each (images_spatial_crop (1, 1) three times).
  Request three;
  three.conversation.user("<image><image><image>\nWhich one is the widest?");
  for (const char* f : {"image_a.png", "image_b.png", "image_c.png"}) three.images.push_back(RequestImage::from_file(kVL2 / f));
  const auto in3 = processor(three);
  CHECK(in3.input_ids == ids_of(ref, "three.input_ids"));
  CHECK(in3.images == std::vector<models::ImageGrid>{{1, 1}, {1, 1}, {1, 1}});

  // The grounding switch writes <|grounding|> where the "text" case has it.
  Request text;
  text.conversation.user("Hello!").assistant("Hi, how can I help?").user("What is 12345 + 678?");
  text.grounding = true;
  CHECK(processor(text).input_ids == ids_of(ref, "text.input_ids"));
  text.conversation.messages.back().content = "<|grounding|>What is 12345 + 678?";
  CHECK(processor(text).input_ids == ids_of(ref, "text.input_ids"));  // not twice

  // Generation prompt off: the last answer keeps its EOS (training mode).
  Request scored;
  scored.conversation.user("Hello!").assistant("Hi, how can I help?");
  scored.generation_prompt = false;
  const auto ids = processor(scored).input_ids;
  CHECK(ids.back() == processor.tokenizer().eos_id());
  scored.generation_prompt = true;
  CHECK(processor(scored).input_ids.back() != processor.tokenizer().eos_id());

  // A raw prompt is encoded as written.
  Request raw;
  raw.raw_prompt = "plain text";
  CHECK(processor(raw).input_ids == language::deepseek_vl2::encode_raw_prompt(processor.tokenizer(), "plain text", {}).input_ids);

  // Tags and images that disagree: the chat format's error.
  Request mismatch;
  mismatch.conversation.user("<image> and <image>");
  mismatch.images.push_back(RequestImage::from_file(kVL2 / "image_a.png"));
  CHECK_THROWS_WITH_AS(processor(mismatch), doctest::Contains("chat_format"), Error);
  CHECK_THROWS_WITH_AS(processor(Request::ask("x", {RequestImage::from_file(kVL2 / "missing.png")})),
                       doctest::Contains("missing.png"), Error);
}

TEST_CASE("DeepSeekVLProcessor gives the official ids and pixels; grounding is refused") {
  const fs::path dir = kVL / "tiny-siglip";
  const test::ReferenceFile ref(dir / "reference.safetensors");
  const auto config = models::read_deepseek_vl_config(dir);
  const auto processor = models::DeepSeekVLProcessor::from_directory(dir, config, vision::PillowVersion::before_12_2);

  const auto in = processor(Request::ask("Describe this image.", {RequestImage::from_file(kVL / "image.png")}));
  CHECK(in.input_ids == ids_of(ref, "one_image.input_ids"));
  CHECK(in.images == std::vector<models::ImageGrid>{{0, 0}});
  CHECK(in.pixel_values.shape(0) == 1);
  CHECK(in.pixel_values.shape(2) == config.image_size());
  Tensor<float, 3> want = vision::vlm_preprocess(io::read_image(kVL / "image.png").view(), processor.image_config(),
                                                 vision::PillowVersion::before_12_2);
  std::int64_t differ = 0;
  for (std::int64_t i = 0; i < want.size(); ++i) differ += want.data()[i] != in.pixel_values.data()[i];
  CHECK(differ == 0);

  Request mid;
  mid.conversation.system("").user("Hello!").assistant("Hi! How can I help?").user("What is in <image_placeholder> on the left?");
  mid.images.push_back(RequestImage::from_file(kVL / "image2.png"));
  CHECK(processor(mid).input_ids == ids_of(ref, "image_mid_text.input_ids"));

  Request grounded = Request::ask("Where is it?", {RequestImage::from_file(kVL / "image.png")});
  grounded.grounding = true;
  CHECK_THROWS_WITH_AS(processor(grounded), doctest::Contains("DeepSeek-VL has no grounding tokens"), Error);
}

TEST_CASE("Processors refuse a processor config that does not fit the model") {
  const fs::path dir = kVL2 / "tiny-mha";
  auto config = models::read_deepseek_vl2_config(dir);
  config.vision.image_size += 14;
  CHECK_THROWS_WITH_AS(models::DeepSeekVL2Processor::from_directory(dir, config),
                       doctest::Contains("processor_config.json"), Error);
  auto vl = models::read_deepseek_vl_config(kVL / "tiny-siglip");
  vl.siglip.image_size += 16;
  CHECK_THROWS_WITH_AS(models::DeepSeekVLProcessor::from_directory(kVL / "tiny-siglip", vl),
                       doctest::Contains("preprocessor_config.json"), Error);
}
#endif
