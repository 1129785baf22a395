# `dsvl inspect`, `dsvl run` and `dsvl forward` on the tiny DeepSeek-VL and DeepSeek-VL2 fixtures
# (tests/data/deepseek_vl, tests/data/deepseek_vl2), their errors on a missing image or model
# directory, the describe_image and ground_image examples, the demo model on the README pictures, and dsvl quantize.
set(dir "${DATA}/deepseek_vl")
file(MAKE_DIRECTORY "${WORK}")

function(expect_success what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: exit ${rc}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect_failure what message)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "${message}")
    message(FATAL_ERROR "${what}: expected a failure saying '${message}', got exit ${rc}\n${out}\n${err}")
  endif()
endfunction()

expect_success("inspect" "${DSVL}" inspect --model "${dir}/tiny-hybrid")
if(NOT out MATCHES "HybridVisionTower" OR NOT out MATCHES "every declared tensor present")
  message(FATAL_ERROR "inspect printed:\n${out}")
endif()

expect_success("run" "${DSVL}" run --model "${dir}/tiny-siglip" --image "${dir}/image.png"
               --prompt "Describe this image." --max-new-tokens 8)
if(NOT err MATCHES "prefill 213 tokens" OR NOT err MATCHES "decode 7 tokens")
  message(FATAL_ERROR "run reported:\n${err}")
endif()

expect_success("forward" "${DSVL}" forward --model "${dir}/tiny-hybrid" --image "${dir}/image.png"
               --image "${dir}/image2.png" --prompt "<image_placeholder> and <image_placeholder>"
               --out "${WORK}/forward.safetensors")
file(READ "${WORK}/forward.safetensors" header LIMIT 400 OFFSET 8)
foreach(tensor "\"input_ids\":{\"dtype\":\"I64\",\"shape\":\\[1155\\]"
               "\"pixel_values\":{\"dtype\":\"F32\",\"shape\":\\[2,3,1024,1024\\]"
               "\"image_embeds\":{\"dtype\":\"F32\",\"shape\":\\[1152,32\\]"
               "\"logits\":{\"dtype\":\"F32\",\"shape\":\\[1155,2048\\]")
  if(NOT header MATCHES "${tensor}")
    message(FATAL_ERROR "forward wrote no ${tensor}: ${header}")
  endif()
endforeach()

expect_failure("missing image" "cannot open image file" "${DSVL}" run --model "${dir}/tiny-siglip"
               --image "${WORK}/none.png" --prompt "x")
expect_failure("missing model" "no such model directory" "${DSVL}" run --model "${WORK}/none" --prompt "x")
expect_failure("image count" "image" "${DSVL}" forward --model "${dir}/tiny-siglip"
               --prompt "<image_placeholder>" --out "${WORK}/x.safetensors")

# DeepSeek-VL2 (tests/data/deepseek_vl2): tiled images, grounding output and drawing.
set(vl2 "${DATA}/deepseek_vl2")
expect_success("inspect VL2" "${DSVL}" inspect --model "${vl2}/tiny-mla")
if(NOT out MATCHES "DeepSeek-VL2, MLA DeepSeekMoE" OR NOT out MATCHES "every declared tensor present")
  message(FATAL_ERROR "inspect printed:\n${out}")
endif()

file(REMOVE "${WORK}/boxes.png")
expect_success("run VL2 with grounding" "${DSVL}" run --model "${vl2}/tiny-mha" --image "${vl2}/image_a.png"
               --prompt "Where is the red box?" --max-new-tokens 8 --ignore-eos --grounding
               --draw-boxes "${WORK}/boxes.png")
if(NOT err MATCHES "decode 7 tokens" OR NOT out MATCHES "boxes \\(290x200 px\\)" OR NOT EXISTS "${WORK}/boxes.png")
  message(FATAL_ERROR "run reported:\n${out}\n${err}")
endif()

expect_success("forward VL2" "${DSVL}" forward --model "${vl2}/tiny-mla" --image "${vl2}/image_b.png"
               --image "${vl2}/image_c.png" --prompt "<image> and <image>" --out "${WORK}/forward2.safetensors")
file(READ "${WORK}/forward2.safetensors" header LIMIT 400 OFFSET 8)
# image_b is tiled 2x1 and image_c 1x2: 3 tiles each, 57 and 61 image tokens.
foreach(tensor "\"pixel_values\":{\"dtype\":\"F32\",\"shape\":\\[6,3,102,102\\]"
               "\"image_embeds\":{\"dtype\":\"F32\",\"shape\":\\[118,64\\]"
               "\"logits\":{\"dtype\":\"F32\",\"shape\":\\[[0-9]+,672\\]")
  if(NOT header MATCHES "${tensor}")
    message(FATAL_ERROR "forward wrote no ${tensor}: ${header}")
  endif()
endforeach()

expect_failure("boxes without grounding" "--draw-boxes needs --grounding" "${DSVL}" run --model "${vl2}/tiny-mha"
               --image "${vl2}/image_a.png" --prompt "x" --draw-boxes "${WORK}/x.png")
expect_failure("grounding on DeepSeek-VL" "DeepSeek-VL has no grounding tokens" "${DSVL}" run --model "${dir}/tiny-siglip"
               --image "${dir}/image.png" --prompt "x" --grounding)

# Loops and the no-repeat n-gram rule: tiny-mla's greedy answer falls into a loop within 1000
# tokens. Detection stops it with a line on stderr; --no-loop-stop and --ignore-eos let it run on.
# With the rule at n 3, window 90, no span of up to 87 tokens comes back whole (but for the exempt
# ids), so no loop stops the answer.
set(loops "${DSVL}" run --model "${vl2}/tiny-mla" --prompt "Describe the image." --max-new-tokens 1000
    --loop-min-tokens 32)
expect_success("run that loops" ${loops})
if(NOT err MATCHES "stopped: the output repeats a [0-9]+-token span over its last 32 tokens")
  message(FATAL_ERROR "run that loops reported:\n${err}")
endif()
expect_success("run that loops, --no-loop-stop" ${loops} --no-loop-stop)
if(err MATCHES "stopped:")
  message(FATAL_ERROR "run with --no-loop-stop reported:\n${err}")
endif()
expect_success("run that loops, --ignore-eos" ${loops} --ignore-eos)
if(err MATCHES "stopped:" OR NOT err MATCHES "decode 999 tokens")
  message(FATAL_ERROR "run with --ignore-eos reported:\n${err}")
endif()
expect_success("run with --no-repeat-ngram" ${loops} --no-repeat-ngram 3 --ngram-window 90 --ngram-exempt "<image>"
               --ngram-exempt "<|ref|>")
if(err MATCHES "stopped:")
  message(FATAL_ERROR "run with --no-repeat-ngram 3 reported:\n${err}")
endif()
expect_failure("an exempt token not in the vocabulary" "--ngram-exempt '<td>' is not a token of the model's tokenizer"
               ${loops} --no-repeat-ngram 30 --ngram-exempt "<td>")
expect_failure("loop periods" "option --loop-periods: '8:2' is not" ${loops} --loop-periods 8:2)

# The examples on the model shell, with either generation.
expect_success("describe_image, DeepSeek-VL" "${DESCRIBE_IMAGE}" "${dir}/tiny-siglip" "${dir}/image.png")
expect_success("describe_image, DeepSeek-VL2" "${DESCRIBE_IMAGE}" "${vl2}/tiny-mla" "${vl2}/image_a.png" "What is it?")
expect_failure("ground_image, DeepSeek-VL" "DeepSeek-VL has no grounding tokens" "${GROUND_IMAGE}" "${dir}/tiny-siglip"
               "${dir}/image.png" "the red box")
file(REMOVE "${WORK}/ground.png")
expect_success("ground_image" "${GROUND_IMAGE}" "${vl2}/tiny-mla-noaux" "${vl2}/image_a.png" "the red box"
               "${WORK}/ground.png")
if(NOT EXISTS "${WORK}/ground.png")
  message(FATAL_ERROR "ground_image wrote no image:\n${out}\n${err}")
endif()
# Each command takes and shows only its own flags.
expect_failure("a flag of another command" "dsvl inspect: unknown option '--prompt'" "${DSVL}" inspect --model
               "${dir}/tiny-siglip" --prompt "x")
expect_success("inspect --help" "${DSVL}" inspect --help)
if(NOT out MATCHES "--model DIR" OR out MATCHES "--prompt")
  message(FATAL_ERROR "dsvl inspect --help shows other commands' flags:\n${out}")
endif()
expect_failure("routed experts on DeepSeek-VL" "preset 1.3b \\(DeepSeek-VL\\) has no routed experts" "${DSVL}"
               random-model --preset 1.3b --routed-experts 4 --out "${WORK}/random")

# The demo model examples/models/shapes-vl on the README's pictures: `dsvl run` gives every
# answer listed in examples/images/shapes.json (tools/demo/train.py wrote the PyTorch model's),
# with the checkpoint's bf16 weights, with the language model quantized to q8 and q4, and with the
# vision side quantized too.
set(examples "${DATA}/../../examples")
file(READ "${examples}/images/shapes.json" listing)
string(JSON count LENGTH "${listing}" questions)
math(EXPR last "${count} - 1")
foreach(weights auto q8 q4 "q4;--vision-weights;q8" "q8;--vision-weights;q4")
  foreach(i RANGE ${last})
    string(JSON image GET "${listing}" questions ${i} image)
    string(JSON question GET "${listing}" questions ${i} question)
    string(JSON expected GET "${listing}" questions ${i} pytorch)
    expect_success("run shapes-vl" "${DSVL}" run --model "${examples}/models/shapes-vl" --weights ${weights}
                   --image "${examples}/images/${image}" --prompt "${question}")
    string(STRIP "${out}" answer)
    if(NOT answer STREQUAL expected)
      string(REPLACE ";" " " weights "${weights}")
      message(FATAL_ERROR "shapes-vl (--weights ${weights}) on ${image}, '${question}': '${answer}', expected '${expected}'\n${err}")
    endif()
  endforeach()
endforeach()

# dsvl quantize: the demo model with its language model stored as q4. Loading the copy reads the
# codes in place and computes exactly what quantizing at load computes (identical forward output).
set(q4dir "${WORK}/shapes-vl-q4")
file(REMOVE_RECURSE "${q4dir}")
expect_success("quantize" "${DSVL}" quantize --model "${examples}/models/shapes-vl" --weights q4 --out "${q4dir}")
expect_success("inspect quantized" "${DSVL}" inspect --model "${q4dir}")
if(NOT out MATCHES "every declared tensor present" OR NOT out MATCHES " U8 ")
  message(FATAL_ERROR "inspect of the quantized copy printed:\n${out}")
endif()
string(JSON image GET "${listing}" questions 0 image)
string(JSON question GET "${listing}" questions 0 question)
expect_success("forward, q4 at load" "${DSVL}" forward --model "${examples}/models/shapes-vl" --weights q4
               --image "${examples}/images/${image}" --prompt "${question}" --out "${WORK}/q4-at-load.safetensors")
expect_success("forward, q4 stored" "${DSVL}" forward --model "${q4dir}" --image "${examples}/images/${image}"
               --prompt "${question}" --out "${WORK}/q4-stored.safetensors")
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${WORK}/q4-at-load.safetensors"
                        "${WORK}/q4-stored.safetensors" RESULT_VARIABLE differ)
if(differ)
  message(FATAL_ERROR "forward on the quantized copy differs from quantizing at load")
endif()
expect_failure("float weights from a quantized copy" "stored quantized \\(U8 codes\\)" "${DSVL}" run
               --model "${q4dir}" --weights bf16 --image "${examples}/images/${image}" --prompt "x")
expect_failure("quantize a quantized copy" "already quantized \\(q4\\)" "${DSVL}" quantize --model "${q4dir}"
               --weights q8 --out "${WORK}/again")

# The same with the vision side stored quantized: q8 language, q4 vision.
set(q8dir "${WORK}/shapes-vl-q8-vision-q4")
file(REMOVE_RECURSE "${q8dir}")
expect_success("quantize with vision" "${DSVL}" quantize --model "${examples}/models/shapes-vl" --weights q8
               --vision-weights q4 --out "${q8dir}")
expect_success("inspect quantized vision" "${DSVL}" inspect --model "${q8dir}")
if(NOT out MATCHES "every declared tensor present")
  message(FATAL_ERROR "inspect of the copy with quantized vision printed:\n${out}")
endif()
expect_success("forward, q8 and vision q4 at load" "${DSVL}" forward --model "${examples}/models/shapes-vl"
               --weights q8 --vision-weights q4 --image "${examples}/images/${image}" --prompt "${question}"
               --out "${WORK}/q8-vq4-at-load.safetensors")
expect_success("forward, q8 and vision q4 stored" "${DSVL}" forward --model "${q8dir}" --image
               "${examples}/images/${image}" --prompt "${question}" --out "${WORK}/q8-vq4-stored.safetensors")
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${WORK}/q8-vq4-at-load.safetensors"
                        "${WORK}/q8-vq4-stored.safetensors" RESULT_VARIABLE differ)
if(differ)
  message(FATAL_ERROR "forward on the copy with quantized vision differs from quantizing at load")
endif()
expect_failure("stored vision codes under float weights" "vision matrices are stored as q4, which needs weights q8 or q4"
               "${DSVL}" run --model "${q8dir}" --weights bf16 --image "${examples}/images/${image}" --prompt "x")
expect_failure("other stored vision codes" "stored quantized|holds quantized codes" "${DSVL}" run --model "${q8dir}"
               --vision-weights q8 --image "${examples}/images/${image}" --prompt "x")
expect_failure("quantized vision with float weights" "vision weights q8, which needs weights q8 or q4" "${DSVL}"
               run --model "${examples}/models/shapes-vl" --vision-weights q8 --image "${examples}/images/${image}"
               --prompt "x")
expect_failure("unknown vision weights" "--vision-weights is 'q2'" "${DSVL}" run --model
               "${examples}/models/shapes-vl" --weights q4 --vision-weights q2 --prompt "x")
