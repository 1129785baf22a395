#!/usr/bin/env bash
# Compile time of the public headers: g++ -std=c++20 -O2 -march=native -fsyntax-only on three
# small translation units, the median of N runs (default 3) of each, printed as a Markdown table.
#
#   bash tools/compile_times.sh [ROOT ...]
#
# Each ROOT is a source tree (default: this repository); with several, the runs are interleaved
# (TU by TU, run by run, root by root) so that a change in the machine's load falls on all of
# them alike. To compare with an older commit:
#
#   git worktree add /tmp/dsvl-before cb77bb3
#   bash tools/compile_times.sh /tmp/dsvl-before .
#
# The translation units:
#   dsvl.hpp           #include <dsvl/dsvl.hpp>
#   siglip_vit + Hwy   <dsvl/policy/hwy.hpp> where the tree has it (the Highway backend's header),
#                      then <dsvl/vision/siglip_vit.hpp>, and a function that constructs a
#                      SiglipVit<policies::HwyBF16> (the class, its constructor and destructor
#                      instantiated)
#   rms_norm           #include <dsvl/kernels/rms_norm.hpp>
# with -I ROOT/include and the definition that the dsvl CMake target adds (HWY_WANT_AVX3_DL).
# Environment: CXX (g++), RUNS (3), CXXFLAGS_EXTRA (appended). The load average (uptime) is
# printed before and after the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
roots=("$@")
[ ${#roots[@]} -eq 0 ] && roots=(.)
CXX=${CXX:-g++}
RUNS=${RUNS:-3}
flags=(-std=c++20 -O2 -march=native -fsyntax-only -DHWY_WANT_AVX3_DL ${CXXFLAGS_EXTRA:-})

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <dsvl/dsvl.hpp>\n' > "$tmp/umbrella.cpp"
cat > "$tmp/siglip_hwy.cpp" <<'EOF'
#if __has_include(<dsvl/policy/hwy.hpp>)
#include <dsvl/policy/hwy.hpp>
#endif
#include <dsvl/vision/siglip_vit.hpp>

void make_siglip(const dsvl::vision::VitConfig& c) { dsvl::vision::SiglipVit<dsvl::policies::HwyBF16> vit(c); }
EOF
printf '#include <dsvl/kernels/rms_norm.hpp>\n' > "$tmp/rms_norm.cpp"
tus=(umbrella siglip_hwy rms_norm)
declare -A label=([umbrella]='`<dsvl/dsvl.hpp>`' [siglip_hwy]='`<dsvl/vision/siglip_vit.hpp>` + `SiglipVit<policies::HwyBF16>`'
                  [rms_norm]='`<dsvl/kernels/rms_norm.hpp>`')

# Seconds of wall time of one compile, or "fail".
time_one() {
  local root=$1 tu=$2 t0 t1
  t0=$(date +%s.%N)
  if ! "$CXX" "${flags[@]}" -I"$root/include" "$tmp/$tu.cpp" 2>"$tmp/err"; then
    echo fail
    return
  fi
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}' 
}
# Which SIMD libraries a TU includes (none, xsimd, hwy), from g++ -H.
simd_libs() {
  local root=$1 tu=$2 out
  out=$("$CXX" "${flags[@]}" -H -I"$root/include" "$tmp/$tu.cpp" 2>&1 >/dev/null | grep -oE '/(xsimd|hwy)/' | sort -u |
        tr -d / | paste -sd, -)
  echo "${out:-none}"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "load before: $(uptime | sed 's/.*load average/load average/')"
declare -A times
for tu in "${tus[@]}"; do
  for ((r = 0; r < RUNS; ++r)); do
    for root in "${roots[@]}"; do times[$tu,$root]+="$(time_one "$root" "$tu") "; done
  done
done
echo "load after:  $(uptime | sed 's/.*load average/load average/')"
echo

header="| translation unit |"
rule="|---|"
for root in "${roots[@]}"; do
  name=$root
  if [ -d "$root/.git" ] || [ -f "$root/.git" ]; then
    name="$root ($(git -C "$root" rev-parse --short HEAD)"
    [ -n "$(git -C "$root" status --porcelain -- include)" ] && name+=" + uncommitted changes"
    name+=")"
  fi
  header+=" $name: median s (runs) | SIMD libraries |"
  rule+="---|---|"
done
[ ${#roots[@]} -eq 2 ] && { header+=" ratio |"; rule+="---|"; }
echo "$header"
echo "$rule"
for tu in "${tus[@]}"; do
  row="| ${label[$tu]} |"
  meds=()
  for root in "${roots[@]}"; do
    read -r -a v <<< "${times[$tu,$root]}"
    if printf '%s\n' "${v[@]}" | grep -q fail; then
      row+=" fails to compile | - |"
      meds+=(0)
    else
      m=$(median "${v[@]}")
      meds+=("$m")
      row+=" $(printf '%.2f' "$m") ($(printf '%.2f ' "${v[@]}" | sed 's/ $//')) | $(simd_libs "$root" "$tu") |"
    fi
  done
  if [ ${#roots[@]} -eq 2 ]; then
    if [ "${meds[0]}" != 0 ] && [ "${meds[1]}" != 0 ]; then
      row+=" $(awk -v a="${meds[0]}" -v b="${meds[1]}" 'BEGIN {printf "%.2f", b / a}')x |"
    else
      row+=" - |"
    fi
  fi
  echo "$row"
done
echo
echo "command: $CXX ${flags[*]} -I<root>/include <tu>.cpp; median of $RUNS"
