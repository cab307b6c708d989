#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and runs each for
# [seconds] (default 60), starting from the corpus in tests/fuzz/corpus/<target>/. New inputs go
# to build-fuzz/corpus/ (not the source tree); a crash leaves its input in build-fuzz/ and fails.
#   scripts/fuzz.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
scripts/install-deps.sh
cc=$(command -v clang-14 || command -v clang); cxx=$(command -v clang++-14 || command -v clang++)
generator=()
[ -f build-fuzz/CMakeCache.txt ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
cmake -S . -B build-fuzz "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAF_FUZZ=ON \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(cd tests/fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//'))
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for t in "${targets[@]}"; do
  seed="tests/fuzz/corpus/$t"
  work="build-fuzz/corpus/$t"
  mkdir -p "$work" "$seed"
  echo "fuzz: $t for ${seconds}s" >&2
  if ! (cd build-fuzz && "./$t" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "../$work" "../$seed" 2>"$t.log"); then
    failed+=("$t")
    tail -n 60 "build-fuzz/$t.log" >&2
  else
    grep -E "^stat::number_of_executed_units|^stat::new_units_added" "build-fuzz/$t.log" | sed "s/^/fuzz: $t: /" >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs: build-fuzz/crash-* / leak-* / timeout-*)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding" >&2
