#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Every DICOM object `hepascope-cli results` writes (SR, fractional SEG, Secondary Capture,
# Encapsulated PDF), for single-frame phantoms and for cines: dciodvfy (dicom3tools) reports no
# error, DCMTK's dsrdump reads the SRs, pydicom (/usr/bin/python3) reads every file and its
# pixels; the SR read back gives the labeled ROIs. Bad inputs give one line. TAP.
set -u
echo "TAP version 13"
for tool in dciodvfy dsrdump dcmdump; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed (Debian: dicom3tools, dcmtk)"
    exit 0
  fi
done
if ! /usr/bin/python3 -c 'import pydicom' 2>/dev/null; then
  echo "1..0 # SKIP pydicom is not installed (Debian: python3-pydicom)"
  exit 0
fi
: "${HEPASCOPE_CLI:?HEPASCOPE_CLI must name hepascope-cli}"
cli="$HEPASCOPE_CLI"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
check () {
  local what="$1"; shift
  if "$@" >"$tmp/check.log" 2>&1; then
    ok "$what"
  else
    not_ok "$what"
    sed 's/^/# /' "$tmp/check.log" | tail -n 20
  fi
}

no_dciodvfy_errors () {
  local f bad=0
  for f in "$1"/*.dcm; do
    # dciodvfy writes its findings to stderr; "Error" lines are failures, warnings are not.
    if dciodvfy "$f" 2>&1 | grep -q '^Error'; then
      echo "$f:"
      dciodvfy "$f" 2>&1 | grep '^Error'
      bad=1
    fi
  done
  return $bad
}

dsrdump_reads () {
  local f
  for f in "$1"/*.sr.dcm; do
    dsrdump "$f" >"$tmp/dsrdump.txt" || return 1
    grep -q 'Imaging Measurement Report' "$tmp/dsrdump.txt" || return 1
    grep -q 'Image Region' "$tmp/dsrdump.txt" || return 1
  done
}

pydicom_reads () {
  /usr/bin/python3 - "$1" <<'PY'
import glob, sys
import pydicom
for path in sorted(glob.glob(sys.argv[1] + "/*.dcm")):
    d = pydicom.dcmread(path)
    kind = d.SOPClassUID.name
    if d.Modality == "SEG":
        a = d.pixel_array
        assert d.SegmentationType == "FRACTIONAL" and a.shape == (d.Rows, d.Columns), path
        assert a.max() > 0, path + ": empty map"
        ref = d.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in d else None
    elif d.Modality == "OT":
        a = d.pixel_array
        assert a.shape == (d.Rows, d.Columns, 3), path
    elif d.Modality == "DOC":
        assert bytes(d.EncapsulatedDocument[:5]) == b"%PDF-", path
    elif d.Modality == "SR":
        assert d.ContentSequence and d.ConceptNameCodeSequence[0].CodeValue == "126000", path
    else:
        raise SystemExit(path + ": unexpected modality " + d.Modality)
print("read", len(glob.glob(sys.argv[1] + "/*.dcm")))
PY
}

same_rois () {
  local study="$1" results="$2" sr
  for sr in "$results"/*.sr.dcm; do
    "$cli" results --import "$sr" --json >"$tmp/import.json" || return 1
    /usr/bin/python3 - "$tmp/import.json" "$study" <<'PY' || return 1
import glob, json, sys
imported = json.load(open(sys.argv[1]))
keys = ("id", "frame", "x", "y", "width", "height", "label", "rater")
got = [{k: r[k] for k in keys} for r in imported["rois"]]
for sidecar in glob.glob(sys.argv[2] + "/*.hepascope.json"):
    want = [{k: r[k] for k in keys} for r in json.load(open(sidecar))["rois"] if r["label"]]
    if want and want[0]["id"] == got[0]["id"]:
        sys.exit(0 if got == want else 1)
sys.exit(1)
PY
  done
}

for kind in single cine; do
  study="$tmp/$kind"
  args=()
  [[ $kind == cine ]] && args=(--cine 3 --size 320x240)
  if ! "$cli" synth --out "$study" --per-class 1 --seed 5 "${args[@]}" >/dev/null 2>&1; then
    not_ok "$kind: synth"
    continue
  fi
  check "$kind: results writes SR, SEG, SC and PDF" "$cli" results "$study" --out "$tmp/$kind-out"
  check "$kind: 5 SR, 5 SEG, 5 SC, 1 Encapsulated PDF" test \
    "$(ls "$tmp/$kind-out"/*.sr.dcm | wc -l) $(ls "$tmp/$kind-out"/*.seg.dcm | wc -l) $(ls "$tmp/$kind-out"/*.view.dcm | wc -l) $(ls "$tmp/$kind-out"/report.dcm | wc -l)" = "5 5 5 1"
  check "$kind: dciodvfy finds no error in any object" no_dciodvfy_errors "$tmp/$kind-out"
  check "$kind: dsrdump reads every SR" dsrdump_reads "$tmp/$kind-out"
  check "$kind: pydicom reads every object and its pixels" pydicom_reads "$tmp/$kind-out"
  check "$kind: the SRs read back give the labeled ROIs" same_rois "$study" "$tmp/$kind-out"
done
check "the SRs refer to the source images (SOP Instance UID)" bash -c "
  for sr in '$tmp'/single-out/*.sr.dcm; do
    uid=\$('$cli' results --import \"\$sr\" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"sop_instance_uid\"])')
    grep -rqs \"\$uid\" <(for f in '$tmp'/single/*.dcm; do dcmdump -s +P 0008,0018 \"\$f\"; done) || exit 1
  done"

one_line () {
  local pattern="$1"; shift
  local rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  # Progress lines may come first; the error is one line of its own.
  [[ $rc -eq 1 && $(grep -c '^hepascope-cli' "$tmp/err") -eq 1 ]] && grep -q -- "$pattern" "$tmp/err"
}
mkdir -p "$tmp/unlabeled"
cp "$tmp"/single/cyst-0000.dcm "$tmp/unlabeled/"
check "a study without labeled ROIs: one line" \
  one_line "No image has a labeled ROI" "$cli" results "$tmp/unlabeled" --out "$tmp/u-out"
"$cli" synth --out "$tmp/png" --per-class 1 --seed 5 --format png >/dev/null 2>&1
check "a PNG image: one line saying the image must be DICOM" \
  one_line "must be DICOM" "$cli" results "$tmp/png/cyst-0000.png" --out "$tmp/p-out"
check "--import of an image, not an SR: one line" \
  one_line "cyst-0000.dcm: not a structured report" \
  "$cli" results --import "$tmp/single/cyst-0000.dcm"
check "--import of a missing file: one line" \
  one_line "nothing.dcm" "$cli" results --import "$tmp/nothing.dcm"
echo "1..$n"
exit $failed
