# The dsvl tool on bad input, one case per class: each must exit 1 with a message that names the
# file, field, tensor or flag, leave every input file as it was, and leave no output or temporary
# file behind. Inputs: a copy of the tiny DeepSeek-VL2 fixture (tests/data/deepseek_vl2/tiny-mha),
# its images, and variants of its files made here.
set(src "${DATA}/deepseek_vl2/tiny-mha")
set(image "${DATA}/deepseek_vl2/image_a.png")
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(model "${WORK}/model")
file(COPY "${src}/" DESTINATION "${model}")
file(COPY "${image}" DESTINATION "${WORK}")
set(image "${WORK}/image_a.png")

# Every file under WORK with its hash: what must not change (outputs are checked by name).
function(snapshot var)
  file(GLOB_RECURSE files LIST_DIRECTORIES false "${WORK}/*")
  list(SORT files)
  set(s "")
  foreach(f IN LISTS files)
    file(SHA256 "${f}" h)
    string(APPEND s "${f} ${h}\n")
  endforeach()
  set(${var} "${s}" PARENT_SCOPE)
endfunction()

# expect_refusal(<what> <regex> [ENV k=v...] COMMAND <args>...): exit status 1 (not a crash, not
# success), stderr matching <regex>, WORK exactly as before.
function(expect_refusal what regex)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "ENV;COMMAND")
  snapshot(before)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${arg_ENV} ${arg_COMMAND}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "${regex}")
    message(FATAL_ERROR "${what}: expected exit 1 saying '${regex}', got '${rc}'\n${out}\n${err}")
  endif()
  snapshot(after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "${what}: the files changed\nbefore:\n${before}\nafter:\n${after}")
  endif()
  message(STATUS "${what}: ${err}")
endfunction()

function(expect_success what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: exit ${rc}\n${out}\n${err}")
  endif()
  set(err "${err}" PARENT_SCOPE)
endfunction()

# A copy of the model with one edit of config.json (string(JSON SET) arguments).
function(variant name)
  set(dir "${WORK}/${name}")
  file(COPY "${model}/" DESTINATION "${dir}")
  file(READ "${dir}/config.json" json)
  string(JSON json SET "${json}" ${ARGN})
  file(WRITE "${dir}/config.json" "${json}")
endfunction()

set(run "${DSVL}" run --model "${model}" --image "${image}" --prompt "Describe." --max-new-tokens 2)

# ---- outputs never replace inputs, and a failed write leaves nothing ----------------------------
expect_refusal("forward over the checkpoint" "model.safetensors: is an input of this run.*--out must name another path"
  COMMAND "${DSVL}" forward --model "${model}" --prompt "x" --out "${model}/model.safetensors")
expect_refusal("forward over the image" "image_a.png: is an input of this run"
  COMMAND "${DSVL}" forward --model "${model}" --image "${image}" --prompt "<image> x" --out "${image}")
expect_refusal("boxes over the checkpoint" "model.safetensors: is an input of this run.*--draw-boxes"
  COMMAND ${run} --grounding --draw-boxes "${model}/model.safetensors")
expect_refusal("quantize into the model" "model: is an input of this run"
  COMMAND "${DSVL}" quantize --model "${model}" --weights q8 --out "${model}")
expect_refusal("quantize over the model's parent" "holds an input of this run"
  COMMAND "${DSVL}" quantize --model "${model}" --weights q8 --out "${WORK}")
file(MAKE_DIRECTORY "${WORK}/notes")
file(WRITE "${WORK}/notes/mine.txt" "a user's file\n")
expect_refusal("quantize over a folder dsvl did not write" "notes: exists and is not empty, and is not a folder dsvl wrote"
  COMMAND "${DSVL}" quantize --model "${model}" --weights q8 --out "${WORK}/notes")
expect_refusal("forward into a missing folder" "cannot create a file beside it"
  COMMAND "${DSVL}" forward --model "${model}" --prompt "x" --out "${WORK}/none/out.safetensors")
expect_refusal("forward past ulimit -f" "out.safetensors: cannot write: File too large"
  COMMAND sh -c "ulimit -f 1 && exec \"$0\" forward --model \"$1\" --prompt x --out \"$2\"" "${DSVL}" "${model}"
          "${WORK}/out.safetensors")
expect_refusal("quantize past ulimit -f" "model.safetensors: cannot write: File too large"
  COMMAND sh -c "ulimit -f 1 && exec \"$0\" quantize --model \"$1\" --weights q8 --out \"$2\"" "${DSVL}" "${model}"
          "${WORK}/q8")
# A folder dsvl wrote is replaced as a whole; the old one is gone, nothing is left beside it.
expect_success("quantize" "${DSVL}" quantize --model "${model}" --weights q8 --out "${WORK}/q8")
file(WRITE "${WORK}/q8/stale.txt" "from the first run\n")
expect_success("quantize again" "${DSVL}" quantize --model "${model}" --weights q4 --out "${WORK}/q8")
file(GLOB leftovers "${WORK}/.*" "${WORK}/q8/stale.txt")
if(leftovers)
  message(FATAL_ERROR "quantize left ${leftovers}")
endif()
expect_success("run the requantized model" "${DSVL}" run --model "${WORK}/q8" --prompt x --max-new-tokens 1)
file(REMOVE_RECURSE "${WORK}/q8")

# ---- sizes are bounded before anything is allocated ---------------------------------------------
variant(layers language_config num_hidden_layers 1000000000)
expect_refusal("layers" "layers/config.json.*field 'language_config/num_hidden_layers' is 1000000000, dsvl accepts 0 to 1024"
  COMMAND "${DSVL}" run --model "${WORK}/layers" --prompt x)
variant(depth projector_config depth 1000000)
expect_refusal("projector depth" "projector_config: field 'depth' is 1000000, dsvl accepts 0 to 1024"
  COMMAND "${DSVL}" inspect --model "${WORK}/depth")
variant(experts language_config n_routed_experts 10000000)
expect_refusal("experts" "field 'language_config/n_routed_experts' is 10000000, dsvl accepts 0 to 4096"
  COMMAND "${DSVL}" run --model "${WORK}/experts" --prompt x)
variant(vocabulary language_config vocab_size 100000000)
expect_refusal("vocabulary" "field 'language_config/vocab_size' is 100000000"
  COMMAND "${DSVL}" run --model "${WORK}/vocabulary" --prompt x)
variant(tiles candidate_resolutions 1 "[30600, 30600]")
expect_refusal("tiling candidate" "candidate 1 width' is 30600, dsvl accepts 0 to 16384"
  COMMAND "${DSVL}" run --model "${WORK}/tiles" --prompt x)
foreach(threads abc 0 -1 99999999999999999999 "4 ")
  expect_refusal("DSVL_NUM_THREADS=${threads}" "DSVL_NUM_THREADS: is '${threads}', expected a positive number of threads"
    ENV "DSVL_NUM_THREADS=${threads}" COMMAND ${run})
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E env DSVL_NUM_THREADS=99999999999 ${run} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err MATCHES "DSVL_NUM_THREADS=99999999999 exceeds the [0-9]+ hardware threads; using")
  message(FATAL_ERROR "DSVL_NUM_THREADS=99999999999: exit ${rc}\n${err}")
endif()
foreach(value 0 -5 abc 1e3 99999999999999999999)
  expect_refusal("--max-new-tokens '${value}'" "option --max-new-tokens: '${value}' is not"
    COMMAND ${run} --max-new-tokens "${value}")
endforeach()
expect_success("--max-new-tokens at its largest" ${run} --max-new-tokens 9223372036854775807 --ignore-eos)
expect_refusal("--temperature nan" "option --temperature: 'nan' is not" COMMAND ${run} --temperature nan)
string(REPEAT "word " 1200 long)
expect_refusal("forward past the context" "the prompt has [0-9]+ tokens, max_position_embeddings is 1024"
  COMMAND "${DSVL}" forward --model "${model}" --prompt "${long}" --out "${WORK}/long.safetensors")
expect_refusal("run past the context" "the prompt has [0-9]+ tokens, max_position_embeddings is 1024"
  COMMAND "${DSVL}" run --model "${model}" --prompt "${long}")
expect_refusal("an image over the pixel limit" "huge.png: the PNG image is 100000x100000 = 10000000000 pixels, over the limit"
  COMMAND "${DSVL}" run --model "${model}" --image "${DATA}/images/huge.png" --prompt x)

# ---- a model folder cannot hang the process or reach outside itself ----------------------------
file(READ "${model}/tokenizer.json" json)
string(JSON json SET "${json}" pre_tokenizer pretokenizers 0 pattern Regex "\"(a+)+$\"")
file(WRITE "${WORK}/nested.json" "${json}")
string(REPEAT "a" 40 text)
file(WRITE "${WORK}/text.jsonl" "{\"text\": \"${text}!\"}\n")
execute_process(COMMAND "${DSVL}" tokenize --tokenizer "${WORK}/nested.json" --jsonl "${WORK}/text.jsonl"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 20)
if(NOT rc EQUAL 0 OR NOT out MATCHES "ids")
  message(FATAL_ERROR "a nested-repetition pre-tokenizer pattern: '${rc}' (a hang times out after 20 s)\n${out}\n${err}")
endif()
file(REMOVE "${WORK}/nested.json" "${WORK}/text.jsonl")
file(COPY "${model}/" DESTINATION "${WORK}/escape")
file(REMOVE "${WORK}/escape/model.safetensors")
file(WRITE "${WORK}/escape/model.safetensors.index.json"
     "{\"weight_map\": {\"lm_head.weight\": \"../../../../../../../../etc/passwd\"}}")
expect_refusal("a shard outside the model folder" "model.safetensors.index.json: .*inside the model folder"
  COMMAND "${DSVL}" run --model "${WORK}/escape" --prompt x)
file(COPY_FILE "${model}/model.safetensors" "${WORK}/outside.safetensors")
file(WRITE "${WORK}/escape/model.safetensors.index.json" "{\"weight_map\": {\"lm_head.weight\": \"link.safetensors\"}}")
file(CREATE_LINK "${WORK}/outside.safetensors" "${WORK}/escape/link.safetensors" SYMBOLIC)
expect_refusal("a shard linked outside the model folder" "resolves outside the model folder"
  COMMAND "${DSVL}" run --model "${WORK}/escape" --prompt x)

# ---- messages name the file and the field --------------------------------------------------------
file(COPY "${model}/" DESTINATION "${WORK}/config-folder")
file(REMOVE "${WORK}/config-folder/config.json")
file(MAKE_DIRECTORY "${WORK}/config-folder/config.json")
expect_refusal("config.json is a folder" "config.json: is a folder, expected a JSON file"
  COMMAND "${DSVL}" run --model "${WORK}/config-folder" --prompt x)
file(COPY "${model}/" DESTINATION "${WORK}/std")
file(READ "${WORK}/std/processor_config.json" json)
string(JSON json SET "${json}" image_std 1 0)
file(WRITE "${WORK}/std/processor_config.json" "${json}")
expect_refusal("image_std 0" "std/processor_config.json: field 'image_std/1' is 0"
  COMMAND "${DSVL}" run --model "${WORK}/std" --prompt x)
file(COPY "${DATA}/deepseek_vl/tiny-siglip/" DESTINATION "${WORK}/vl-min-size")
file(READ "${WORK}/vl-min-size/preprocessor_config.json" json)
string(JSON json SET "${json}" min_size 0)
file(WRITE "${WORK}/vl-min-size/preprocessor_config.json" "${json}")
expect_refusal("min_size 0" "vl-min-size/preprocessor_config.json: image_size \\(192\\) must be at least min_size \\(0\\)"
  COMMAND "${DSVL}" run --model "${WORK}/vl-min-size" --prompt x)
expect_refusal("tokenize --jsonl of a folder" "is a folder, expected a JSON-lines file"
  COMMAND "${DSVL}" tokenize --tokenizer "${model}/tokenizer.json" --jsonl "${WORK}")

# ---- the earlier classes: checkpoints, configs, images, prompts ----------------------------------
file(COPY "${model}/" DESTINATION "${WORK}/truncated")
file(REMOVE "${WORK}/truncated/model.safetensors")
file(COPY "${DATA}/images/not_an_image.png" DESTINATION "${WORK}/truncated")  # any short file
file(RENAME "${WORK}/truncated/not_an_image.png" "${WORK}/truncated/model.safetensors")
expect_refusal("a checkpoint that is not safetensors" "truncated/model.safetensors: not a safetensors file"
  COMMAND "${DSVL}" run --model "${WORK}/truncated" --prompt x)
file(COPY "${model}/" DESTINATION "${WORK}/badjson")
file(WRITE "${WORK}/badjson/config.json" "{\"model_type\": ")
expect_refusal("config.json is not JSON" "badjson/config.json: invalid JSON"
  COMMAND "${DSVL}" run --model "${WORK}/badjson" --prompt x)
expect_refusal("a corrupt image" "garbage.jpg: "
  COMMAND "${DSVL}" run --model "${model}" --image "${DATA}/images/garbage.jpg" --prompt x)
expect_refusal("more tags than images" "image"
  COMMAND "${DSVL}" run --model "${model}" --image "${image}" --prompt "<image> and <image>")
expect_refusal("an unknown flag" "unknown option '--wat'" COMMAND ${run} --wat)
