#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Retrieval from a local archive: a 100-image phantom study (640x480 US, one patient) pushed into
# a throwaway Orthanc on loopback, then retrieved with C-GET and with C-MOVE, three times each,
# into fresh folders. Prints the wall time of each `hepascope-cli pacs get` and the load.
# Target (issue 23): <= 10 s. Usage: tests/pacs/bench-pacs-retrieve.sh [BUILDDIR] [N_PER_CLASS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
builddir="${1:-$here/../../_build}"
per_class="${2:-20}"
export HEPASCOPE_CLI="$builddir/app/hepascope-cli"
source "$here/orthanc.sh"

tmp=$(mktemp -d)
trap 'orthanc_stop; rm -rf "$tmp"' EXIT
orthanc_start "$tmp/orthanc"
make_study "$tmp/study" "$per_class" 100
n=$(ls "$tmp"/study/*.dcm | wc -l)
"$HEPASCOPE_CLI" pacs send --node "$orthanc_node" "$tmp/study" >/dev/null 2>&1
study=$("$HEPASCOPE_CLI" pacs find --node "$orthanc_node" --patient-id PHANTOM-100 --json 2>/dev/null \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["matches"][0]["study_uid"])')
echo "study: $n images, $(du -sh "$tmp/study" | cut -f1) with sidecars, in Orthanc $(Orthanc --version | head -n 1)"
for mode in get move; do
  for run in 1 2 3; do
    args=()
    [[ $mode == move ]] && args=(--move --port "$our_port")
    start=$(date +%s.%N)
    "$HEPASCOPE_CLI" pacs get --node "$orthanc_node" --study "$study" --out "$tmp/$mode-$run" \
      "${args[@]}" >/dev/null 2>&1
    end=$(date +%s.%N)
    got=$(ls "$tmp/$mode-$run"/*.dcm | wc -l)
    printf 'C-%s run %d: %d images in %.2f s (%s)\n' "${mode^^}" "$run" "$got" \
      "$(python3 -c "print($end - $start)")" "$(uptime | sed 's/.*load/load/')"
  done
done
