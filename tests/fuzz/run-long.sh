#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The nightly-style fuzzing run: every libFuzzer target for FUZZ_SECONDS (600 by default) on its
# committed seeds, the generated structure-aware seeds (gen-seeds) and its growing corpus, with
# -max_len 1 MiB. .ci/run keeps 30 s each. Needs clang; builds _build-fuzz if missing.
#   tests/fuzz/run-long.sh                 # 10 minutes each
#   FUZZ_SECONDS=60 nice -n 10 tests/fuzz/run-long.sh fuzz-dicom fuzz-sidecar
# Ends with one line per target (runs, new corpus size, crashes found) and exits 1 on a crash.
set -uo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fz="${FUZZ_BUILD:-$top/_build-fuzz}"
seconds="${FUZZ_SECONDS:-600}"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz-dicom fuzz-manifest fuzz-pth fuzz-safetensors fuzz-sidecar)

if [[ ! -f "$fz/meson-private/coredata.dat" ]]; then
  CC=clang CXX=clang++ meson setup "$fz" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dgui=disabled >/dev/null || exit 1
fi
meson compile -C "$fz" "${targets[@]}" gen-seeds >/dev/null || exit 1
"$fz/tests/gen-seeds" "$fz/tests/fuzz/generated" || exit 1

status=0
summary=()
for t in "${targets[@]}"; do
  kind="${t#fuzz-}"
  corpus="$fz/tests/fuzz/corpus-$kind"
  artifacts="$fz/tests/fuzz/artifacts-$kind/"
  mkdir -p "$corpus" "$artifacts" "$fz/tests/fuzz/generated/$kind"
  log="$fz/tests/fuzz/long-$kind.log"
  echo "== $t: $seconds s"
  ASAN_OPTIONS=detect_leaks=0 "$fz/tests/fuzz/$t" -max_total_time="$seconds" \
    -malloc_limit_mb=4200 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$corpus" "$top/tests/fuzz/seed-$kind" \
    "$fz/tests/fuzz/generated/$kind" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "$artifacts" -type f | wc -l)
  [[ $rc -eq 0 ]] || status=1
  summary+=("$t: exit $rc, ${runs:-?} runs, corpus $(ls "$corpus" | wc -l) files, $crashes artifacts")
done
printf '%s\n' "${summary[@]}"
exit $status
