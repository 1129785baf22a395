#!/usr/bin/env bash
# The test suite built with clang under AddressSanitizer and UndefinedBehaviorSanitizer, every test
# executable and the tool's tests included, plus the libFuzzer binaries and a short run of each
# (fuzz_<name>_smoke). tools/test.sh runs it after the g++ suite when CI=true or DSVL_SANITIZE=1.
# Left out, to keep CI within its budget: the build checks (DSVL_TEST_BUILD_CHECKS: headers alone,
# compile failures, the installed package), the other instruction-set builds and the benchmarks;
# they test the build, which the g++ suite does, not the code's memory. The CUDA tests are left out
# too: nvcc's objects cannot link against clang's ASan runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh clang-14 libclang-rt-14-dev
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CXX=clang++-14 cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DDSVL_BUILD_TESTS=ON \
  -DCMAKE_CXX_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" -DDSVL_BUILD_BENCH=OFF -DDSVL_TEST_ISA_VARIANTS=OFF -DDSVL_WITH_CUDA=OFF \
  -DDSVL_TEST_BUILD_CHECKS=OFF -DDSVL_BUILD_FUZZERS=ON -DDSVL_FUZZ_SMOKE_SECONDS=10 "$@" >/dev/null
cmake --build build-sanitize -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-sanitize --output-on-failure
