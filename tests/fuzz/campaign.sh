#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Mutation campaign through the whole CLI (issue 19's figures): seeds are the DICOM files in
# ../shared/dicom-samples (read in place, never copied into the project) and gen-seeds' generated
# fixtures; each seed gives MUTANTS byte-level mutants (flips, truncation, splices, repeated
# blocks) besides itself, run through `info`, `render` and `classify` (a random model) under a
# timeout; sidecar seeds (generated nested JSON, a FIFO, a link to /dev/zero, a 65 MiB sparse
# file) go through `export`. Then KILLS SIGKILLs at random moments of `export`, each followed
# by a check that manifest.csv/json still parse and no temporary file is left.
#   tests/fuzz/campaign.sh CLI GEN_SEEDS OUT [MUTANTS] [KILLS]
# Prints: mutants run, clean (exit 0/1 with at most one stderr line per failure), crashes
# (signal or sanitizer), hangs (over TIMEOUT s), and the kill loop's counts. Run under nice.
set -uo pipefail
cli="$1"; gen="$2"; out="$3"; mutants="${4:-6}"; kills="${5:-20}"
timeout_s="${TIMEOUT:-20}"
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
samples="${SAMPLES:-$top/../shared/dicom-samples}"
rm -rf "$out"; mkdir -p "$out/seeds" "$out/m" "$out/x"
"$gen" "$out/seeds" >/dev/null
# The largest generated inputs (10,000 levels in every encoding) are kept; 300-level ones too.
ls "$samples"/*.dcm > "$out/list" 2>/dev/null
ls "$out/seeds/dicom"/nest-{65,10000}-*.dcm "$out/seeds/dicom"/fragments-*.dcm >> "$out/list"

python3 - "$out/list" "$out/m" "$mutants" <<'PY'
import os, random, sys
lst, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(19)
for k, path in enumerate(open(lst).read().split()):
    data = open(path, 'rb').read()
    base = '%03d' % k
    open(os.path.join(dst, base + '-0.dcm'), 'wb').write(data)
    for i in range(1, n + 1):
        b = bytearray(data)
        op = rng.randrange(5)
        if op == 0:                              # flip bytes
            for _ in range(rng.randint(1, 16)):
                j = rng.randrange(len(b)); b[j] = rng.randrange(256)
        elif op == 1:                            # truncate
            b = b[:rng.randrange(max(1, len(b)))]
        elif op == 2:                            # a 4-byte length set to a wild value
            j = rng.randrange(max(1, len(b) - 4))
            b[j:j + 4] = rng.choice([b'\xff\xff\xff\xff', b'\x00\x00\x00\x80', b'\x10\x00\x00\x00'])
        elif op == 3:                            # splice a block of itself elsewhere
            j = rng.randrange(len(b)); m = rng.randrange(1, 512)
            at = rng.randrange(len(b)); b[at:at] = b[j:j + m]
        else:                                    # repeat the sequence headers' bytes
            seq = b'\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff'
            at = rng.randrange(len(b)); b[at:at] = seq * rng.choice([1, 70, 3000])
        open(os.path.join(dst, '%s-%d.dcm' % (base, i)), 'wb').write(bytes(b))
PY

# classify runs the model on every mutant: only with CLASSIFY_MODEL=FILE (slow on a shared machine).
model="${CLASSIFY_MODEL:-}"
run=0; clean=0; crash=0; hang=0; noisy=0
classify () {   # $1 rc, $2 stderr file, $3 label
  run=$((run + 1))
  if [[ $1 -eq 124 ]]; then hang=$((hang + 1)); echo "HANG $3" >> "$out/findings"
  elif [[ $1 -ge 128 ]] || grep -q "Sanitizer\|runtime error" "$2"; then
    crash=$((crash + 1)); echo "CRASH($1) $3" >> "$out/findings"
  else
    clean=$((clean + 1))
    if [[ $1 -ne 0 && $(wc -l < "$2") -gt 1 ]]; then noisy=$((noisy + 1)); fi
  fi
}
for f in "$out"/m/*.dcm; do
  timeout -s KILL "$timeout_s" "$cli" info "$f" >/dev/null 2>"$out/x/err"; rc=$?; [[ $rc -eq 137 ]] && rc=124
  classify $rc "$out/x/err" "info $f"
  timeout -s KILL "$timeout_s" "$cli" render "$f" -o "$out/x/r.png" >/dev/null 2>"$out/x/err"; rc=$?; [[ $rc -eq 137 ]] && rc=124
  classify $rc "$out/x/err" "render $f"
  if [[ -n "$model" ]]; then
    timeout -s KILL "$timeout_s" "$cli" classify --model "$model" "$f" >/dev/null 2>"$out/x/err"; rc=$?; [[ $rc -eq 137 ]] && rc=124
    classify $rc "$out/x/err" "classify $f"
  fi
done

# Sidecars through export: generated nested JSON, a FIFO, a link to /dev/zero, 65 MiB.
mkdir -p "$out/sc"
sidecar_seeds=("$out"/seeds/sidecar/*.json)
k=0
for s in "${sidecar_seeds[@]}" fifo zero huge; do
  d="$out/sc/$k"; mkdir -p "$d/in"; k=$((k + 1))
  cp "$out/seeds/dicom/nest-3-explicit-le-defined.dcm" "$d/in/a.dcm"
  case "$s" in
    fifo) mkfifo "$d/in/a.dcm.hepascope.json" ;;
    zero) ln -s /dev/zero "$d/in/a.dcm.hepascope.json" ;;
    huge) truncate -s 65M "$d/in/a.dcm.hepascope.json" ;;
    *) cp "$s" "$d/in/a.dcm.hepascope.json" ;;
  esac
  HEPASCOPE_CONFIG_DIR="$d/config" timeout -s KILL "$timeout_s" "$cli" export --out "$d/out" "$d/in" \
    >/dev/null 2>"$out/x/err"; rc=$?; [[ $rc -eq 137 ]] && rc=124
  classify $rc "$out/x/err" "export sidecar $s"
  st="$out/seeds/safetensors/$(basename "${s%.json}").safetensors"
  if [[ -f "$st" ]]; then
    timeout -s KILL "$timeout_s" "$cli" model "$st" >/dev/null 2>"$out/x/err"; rc=$?
    [[ $rc -eq 137 ]] && rc=124
    classify $rc "$out/x/err" "model $st"
  fi
done
echo "mutants run: $run; clean: $clean (of which $noisy failed with more than one stderr line); crashes: $crash; hangs: $hang"

# SIGKILL loop on export: a folder of 12 images with sidecars, killed at random moments.
kd="$out/kill"; mkdir -p "$kd/in"
for i in $(seq 1 12); do
  cp "$out/seeds/dicom/nest-3-explicit-le-defined.dcm" "$kd/in/img$i.dcm"
  printf '{"format": "hepascope-annotations", "version": 1, "image": "img%d.dcm", "rois": [{"id": "r-1", "frame": 0, "x": 1, "y": 1, "width": 5, "height": 5, "label": "cyst", "rater": "", "created": "2026-11-27T09:00:00Z", "modified": "2026-11-27T09:00:00Z"}]}\n' "$i" > "$kd/in/img$i.dcm.hepascope.json"
done
killed=0; intact=0; broken=0; leftovers=0
for i in $(seq 1 "$kills"); do
  HEPASCOPE_CONFIG_DIR="$kd/config" "$cli" export --force --out "$kd/out" "$kd/in" >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"
  kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
  wait "$pid" 2>/dev/null
  ok=1
  for mf in manifest.csv manifest.json; do
    if [[ -f "$kd/out/$mf" ]] && ! python3 -c "
import csv, json, sys
p = sys.argv[1]
json.load(open(p)) if p.endswith('.json') else list(csv.reader(open(p)))" "$kd/out/$mf" 2>/dev/null; then ok=0; fi
  done
  [[ $ok -eq 1 ]] && intact=$((intact + 1)) || broken=$((broken + 1))
  n=$(find "$kd/out" "$kd/in" -name '.*' -type f 2>/dev/null | wc -l)
  leftovers=$((leftovers + n))
done
echo "kill loop: $kills exports started, $killed killed mid-run, manifests intact after $intact, damaged after $broken, temporary files left: $leftovers"
