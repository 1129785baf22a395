# `dsvl ocr` with the tiny DeepSeek-OCR fixture (tests/data/deepseek_ocr/tiny-ocr) in its image
# modes, and with the tiny DeepSeek-VL2 fixture (tests/data/deepseek_vl2/tiny-mha) for the rest:
# their answers are random tokens, so this checks structure, not text. Exit codes,
# Markdown and JSON on stdout and in files, folders for several pages, figure crops and drawn
# pages, PDF pages (PDF=1: the tool is built with poppler-cpp; else their refusal), and refusals of
# bad arguments, which must leave every file as it was.
set(model "${DATA}/deepseek_vl2/tiny-mha")
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/pages" "${WORK}/other")
file(COPY "${DATA}/deepseek_vl2/image_a.png" "${DATA}/deepseek_vl2/image_b.png" DESTINATION "${WORK}/pages")
file(COPY "${DATA}/deepseek_vl2/image_a.png" DESTINATION "${WORK}/other")
set(a "${WORK}/pages/image_a.png")  # 290 x 200
set(b "${WORK}/pages/image_b.png")  # 200 x 100
set(ocr "${DSVL}" ocr --model "${model}" --max-new-tokens 6)

function(expect_success what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: exit ${rc}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

# Every file under WORK with its hash.
function(snapshot var)
  file(GLOB_RECURSE files LIST_DIRECTORIES true "${WORK}/*")
  list(SORT files)
  set(s "")
  foreach(f IN LISTS files)
    if(IS_DIRECTORY "${f}")
      string(APPEND s "${f}/\n")
    else()
      file(SHA256 "${f}" h)
      string(APPEND s "${f} ${h}\n")
    endif()
  endforeach()
  set(${var} "${s}" PARENT_SCOPE)
endfunction()

# Exit 1 with stderr matching `regex`, every file under WORK as before and none added.
function(expect_refusal what regex)
  snapshot(before)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "${regex}")
    message(FATAL_ERROR "${what}: expected exit 1 saying '${regex}', got '${rc}'\n${out}\n${err}")
  endif()
  snapshot(after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "${what}: the files changed\nbefore:\n${before}\nafter:\n${after}")
  endif()
endfunction()

# A JSON document of a page: its size and a list of blocks with order, label, boxes and text.
function(expect_page_json what json width height)
  string(JSON w ERROR_VARIABLE e1 GET "${json}" width)
  string(JSON h ERROR_VARIABLE e2 GET "${json}" height)
  string(JSON blocks ERROR_VARIABLE e3 LENGTH "${json}" blocks)
  string(JSON problems ERROR_VARIABLE e4 TYPE "${json}" problems)
  if(e1 OR e2 OR e3 OR e4 OR NOT w EQUAL ${width} OR NOT h EQUAL ${height} OR NOT problems STREQUAL "ARRAY")
    message(FATAL_ERROR "${what}: not a ${width}x${height} page document: ${json}")
  endif()
  if(blocks GREATER 0)
    math(EXPR last "${blocks} - 1")
    foreach(k RANGE ${last})
      string(JSON order GET "${json}" blocks ${k} order)
      string(JSON label TYPE "${json}" blocks ${k} label)
      string(JSON boxes TYPE "${json}" blocks ${k} boxes)
      string(JSON text TYPE "${json}" blocks ${k} text)
      if(NOT order EQUAL k OR NOT label STREQUAL "STRING" OR NOT boxes STREQUAL "ARRAY" OR NOT text STREQUAL "STRING")
        message(FATAL_ERROR "${what}: block ${k} is not a block: ${json}")
      endif()
    endforeach()
  endif()
endfunction()

# DeepSeek-OCR in its default mode (gundam: the tall page in 1 x 2 tiles) and in two others.
set(tiny_ocr "${DATA}/deepseek_ocr/tiny-ocr")
foreach(mode "" tiny base)
  set(mode_flag)
  if(mode)
    set(mode_flag --mode ${mode})
  endif()
  expect_success("DeepSeek-OCR, mode '${mode}'" "${DSVL}" ocr --model "${tiny_ocr}" --max-new-tokens 6 ${mode_flag}
                 --format json "${DATA}/deepseek_ocr/page_tall.png")
  expect_page_json("DeepSeek-OCR, mode '${mode}'" "${out}" 760 1400)
endforeach()

# The official decoding: dsvl ocr answers as dsvl run does with the official flags (this answer has
# no markup, so its Markdown is its text).
set(page "${DATA}/deepseek_ocr/page_small.png")
expect_success("ocr, official decoding" "${DSVL}" ocr --model "${tiny_ocr}" --max-new-tokens 60 "${page}")
set(markdown "${out}")
expect_success("run, official flags" "${DSVL}" run --model "${tiny_ocr}" --image "${page}" --raw --grounding
               --prompt "<image>\n<|grounding|>Convert the document to markdown." --max-new-tokens 60
               --no-repeat-ngram 30 --ngram-window 90 --ngram-exempt "<td>" --ngram-exempt "</td>")
string(FIND "${out}" "\nboxes (" end)
string(SUBSTRING "${out}" 0 ${end} answer)
if(NOT markdown STREQUAL "${answer}\n" OR end LESS 40)
  message(FATAL_ERROR "dsvl ocr and dsvl run with the official flags differ:\n${markdown}\n${answer}")
endif()

# Markdown of one page on stdout, the figures to stderr.
expect_success("Markdown to stdout" ${ocr} "${a}")
if(NOT err MATCHES "page 1/1 \\(image_a, 290x200\\): [0-9]+ tokens in")
  message(FATAL_ERROR "ocr reported:\n${err}")
endif()

# JSON of two pages on stdout: one line each, in order.
expect_success("JSON to stdout" ${ocr} "${a}" "${b}" --format json)
# (Split with string(FIND): the lines may hold ';', CMake's list separator.)
string(FIND "${out}" "\n" end)
math(EXPR next "${end} + 1")
string(SUBSTRING "${out}" 0 ${end} first)
string(SUBSTRING "${out}" ${next} -1 second)
string(FIND "${second}" "\n" end)
string(LENGTH "${second}" length)
math(EXPR length "${length} - 1")
if(end EQUAL -1 OR NOT end EQUAL length)
  message(FATAL_ERROR "expected two JSON lines:\n${out}")
endif()
string(SUBSTRING "${second}" 0 ${end} second)
expect_page_json("stdout, page 1" "${first}" 290 200)
expect_page_json("stdout, page 2" "${second}" 200 100)

# Markdown of two pages on stdout, split as the official script splits pages.
expect_success("Markdown of two pages" ${ocr} "${a}" "${b}")
if(NOT out MATCHES "\n\n<--- Page Split --->\n")
  message(FATAL_ERROR "no page split:\n${out}")
endif()

# --out FILE for one page; --out DIR for several (made when absent); --draw-boxes likewise.
expect_success("--out FILE" ${ocr} "${a}" --out "${WORK}/a.md" --draw-boxes "${WORK}/a-boxes.png")
if(NOT out STREQUAL "" OR NOT EXISTS "${WORK}/a.md" OR NOT EXISTS "${WORK}/a-boxes.png")
  message(FATAL_ERROR "--out a.md --draw-boxes a-boxes.png wrote:\n${out}\n${err}")
endif()
file(READ "${WORK}/a-boxes.png" magic LIMIT 8 HEX)
if(NOT magic STREQUAL "89504e470d0a1a0a")
  message(FATAL_ERROR "a-boxes.png is not a PNG")
endif()
expect_success("--out DIR" ${ocr} "${a}" "${b}" --format json --out "${WORK}/json" --draw-boxes "${WORK}/drawn"
               --crop-figures "${WORK}/json/images")
foreach(name image_a image_b)
  if(NOT EXISTS "${WORK}/json/${name}.json" OR NOT EXISTS "${WORK}/drawn/${name}.png")
    message(FATAL_ERROR "--out json/ --draw-boxes drawn/ did not write ${name}:\n${err}")
  endif()
endforeach()
file(READ "${WORK}/json/image_b.json" json)
expect_page_json("json/image_b.json" "${json}" 200 100)
file(MAKE_DIRECTORY "${WORK}/md")
expect_success("--out an existing folder" ${ocr} "${b}" --out "${WORK}/md" --prompt "<image>\nFree OCR.")
if(NOT EXISTS "${WORK}/md/image_b.md")
  message(FATAL_ERROR "--out md (a folder) did not write md/image_b.md")
endif()

# PDF pages: page N of doc.pdf is doc-N; a 200 x 150 pt page is 400 x 300 px at 144 dpi, and so is
# a 150 x 200 pt page turned by /Rotate 90.
set(objects
    "<< /Type /Catalog /Pages 2 0 R >>"
    "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>"
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 150] /Contents 5 0 R >>"
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 150 200] /Rotate 90 /Contents 5 0 R >>"
    "<< /Length 26 >>\nstream\n1 0 0 rg 10 10 100 50 re f\nendstream")
set(pdf "%PDF-1.4\n")
set(xref "")
set(i 1)
foreach(object IN LISTS objects)
  string(LENGTH "${pdf}" at)
  string(LENGTH "${at}" digits)
  math(EXPR pad "10 - ${digits}")
  string(REPEAT "0" ${pad} zeros)
  string(APPEND xref "${zeros}${at} 00000 n \n")
  string(APPEND pdf "${i} 0 obj\n${object}\nendobj\n")
  math(EXPR i "${i} + 1")
endforeach()
string(LENGTH "${pdf}" start)
string(APPEND pdf "xref\n0 6\n0000000000 65535 f \n${xref}trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n${start}\n%%EOF\n")
file(WRITE "${WORK}/pdf/doc.pdf" "${pdf}")
if(PDF)
  expect_success("PDF pages" ${ocr} "${WORK}/pdf/doc.pdf" --format json --out "${WORK}/pdf/out")
  foreach(n 1 2)
    file(READ "${WORK}/pdf/out/doc-${n}.json" json)
    expect_page_json("doc-${n}.json" "${json}" 400 300)
  endforeach()
  file(WRITE "${WORK}/pdf/broken.pdf" "%PDF-1.4\nnothing else")
  expect_refusal("a broken PDF" "broken.pdf: cannot read this PDF" ${ocr} "${WORK}/pdf/broken.pdf")
else()
  expect_refusal("a PDF without poppler-cpp" "doc.pdf: is a PDF, and this dsvl was built without poppler-cpp"
                 ${ocr} "${WORK}/pdf/doc.pdf")
endif()

# Refusals, before the model is loaded or anything written.
expect_refusal("no page" "no page given" ${ocr})
expect_refusal("no model" "--model DIR is required" "${DSVL}" ocr "${a}")
expect_refusal("a missing page" "none.png: is not a file" ${ocr} "${WORK}/none.png")
expect_refusal("a page that is no image" "not a PNG or JPEG image" ${ocr} "${model}/config.json")
expect_refusal("an unknown format" "--format is 'xml', expected md\\|json" ${ocr} "${a}" --format xml)
expect_refusal("an unknown mode" "--mode is 'huge', expected tiny\\|small\\|base\\|large\\|gundam" ${ocr} "${a}"
               --mode huge)
expect_refusal("a mode the model lacks" "DeepSeek-VL2 has no image modes" ${ocr} "${a}" --mode base)
expect_refusal("--out onto a page" "image_a.png: is an input of this run" ${ocr} "${a}" --out "${a}")
expect_refusal("--draw-boxes onto a page" "is an input of this run" ${ocr} "${a}" --draw-boxes "${a}")
expect_refusal("--draw-boxes into the pages' folder" "image_a.png: is an input of this run" ${ocr} "${a}" "${b}"
               --draw-boxes "${WORK}/pages")
expect_refusal("--out onto the model's files" "is an input of this run" ${ocr} "${a}" --out "${model}/config.json")
expect_refusal("--crop-figures in the pages' folder" "holds an input of this run" ${ocr} "${a}" --crop-figures
               "${WORK}/pages")
expect_refusal("two pages of one name" "would both write" ${ocr} "${a}" "${WORK}/other/image_a.png" --out
               "${WORK}/two")
expect_refusal("an option of another command" "dsvl ocr: unknown option '--image'" ${ocr} --image "${a}")
expect_success("ocr --help" "${DSVL}" ocr --help)
if(NOT out MATCHES "usage: dsvl ocr \\[options\\] PAGE\\.\\.\\." OR NOT out MATCHES "--crop-figures DIR")
  message(FATAL_ERROR "dsvl ocr --help printed:\n${out}")
endif()
