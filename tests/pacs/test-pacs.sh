#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Integration test against a real archive: a throwaway Orthanc on loopback (tests/pacs/orthanc.sh).
# Pushes phantoms, finds them (study and series level), retrieves them with C-GET and C-MOVE,
# classifies ROIs and writes the results (SR, maps, views, PDF), sends them back, finds them in
# Orthanc, retrieves the SR and reads the same ROIs back. Then the four failures, each one line:
# unreachable node, refused association, wrong AE title, timeout. TAP; skips without Orthanc.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/orthanc.sh"

echo "TAP version 13"
for tool in Orthanc dcmodify dcmdump python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed (Debian: orthanc, dcmtk, python3)"
    exit 0
  fi
done
: "${HEPASCOPE_CLI:?HEPASCOPE_CLI must name hepascope-cli}"

tmp=$(mktemp -d)
listener_pid=
cleanup () {
  orthanc_stop
  [[ -n "$listener_pid" ]] && kill "$listener_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
# Runs a check; its output goes to the log (shown as TAP comments when it fails).
check () {
  local what="$1"; shift
  if "$@" >"$tmp/check.log" 2>&1; then
    ok "$what"
  else
    not_ok "$what"
    sed 's/^/# /' "$tmp/check.log" | tail -n 20
  fi
}
json () { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

if ! orthanc_start "$tmp/orthanc"; then
  not_ok "Orthanc starts on loopback"
  echo "1..$n"
  exit 1
fi
ok "Orthanc starts on loopback ($orthanc_node)"
cli=("$HEPASCOPE_CLI")
node=(--node "$orthanc_node")

# Push.
make_study "$tmp/study" 1 11 || not_ok "synth makes phantoms"
check "pacs send: 5 phantoms" "${cli[@]}" pacs send "${node[@]}" "$tmp/study"

# Find: one study of five images, five series.
"${cli[@]}" pacs find "${node[@]}" --patient-id PHANTOM-11 --modality US --json >"$tmp/find.json"
study=$(json 'd["matches"][0]["study_uid"] if len(d["matches"]) == 1 else ""' <"$tmp/find.json")
count=$(json 'd["matches"][0]["n_instances"] if d["matches"] else -1' <"$tmp/find.json")
check "pacs find (study level): one study, 5 images" test -n "$study" -a "$count" = 5
"${cli[@]}" pacs find "${node[@]}" --patient-id NOBODY --json >"$tmp/none.json"
check "pacs find: no match for an unknown patient" \
  test "$(json 'len(d["matches"])' <"$tmp/none.json")" = 0
# Character sets: a Latin-1 name is found by its UTF-8 spelling and comes back as UTF-8.
"${cli[@]}" synth --out "$tmp/latin1" --per-class 1 --seed 3 >/dev/null 2>&1
dcmodify -nb -m "SpecificCharacterSet=ISO_IR 100" -m "PatientName=$(printf 'M\xfcller^J\xf6rg')" \
  -m "PatientID=LATIN1" "$tmp/latin1/cyst-0000.dcm" >/dev/null
"${cli[@]}" pacs send "${node[@]}" "$tmp/latin1/cyst-0000.dcm" >/dev/null 2>&1
"${cli[@]}" pacs find "${node[@]}" --patient-name 'Müller*' --json >"$tmp/latin1.json"
check "pacs find: a Latin-1 name, queried and shown in UTF-8" \
  test "$(json '[m["patient_name"] for m in d["matches"]]' <"$tmp/latin1.json")" = "['Müller^Jörg']"
"${cli[@]}" pacs find "${node[@]}" --study "$study" --json >"$tmp/series.json"
check "pacs find --study (series level): 5 US series" \
  test "$(json 'sum(1 for m in d["matches"] if m["modality"] == "US")' <"$tmp/series.json")" = 5

# Cancellation between messages (C-GET and C-MOVE), from the core API.
if [[ -n "${HEPASCOPE_TEST_PACS_CORE:-}" ]]; then
  check "core API: cancelling C-GET and C-MOVE (complete files only, node still fine); async echo, find, get, send" \
    env HEPASCOPE_TEST_PACS_NODE="$orthanc_node" HEPASCOPE_TEST_PACS_STUDY="$study" \
    HEPASCOPE_TEST_PACS_PORT="$our_port" "$HEPASCOPE_TEST_PACS_CORE"
fi

# Retrieve: C-GET, then C-MOVE to our own storage SCP; same files as sent.
same_files () {
  local dir="$1"
  [[ $(find "$dir" -maxdepth 1 -name '*.dcm' | wc -l) -eq 5 ]] || return 1
  for f in "$tmp"/study/*.dcm; do
    cmp -s <(dcmdump -s +P 7fe0,0010 "$f" | md5sum) \
           <(dcmdump -s +P 7fe0,0010 "$dir/$(sop_uid "$f").dcm" | md5sum) || return 1
  done
  [[ ! -e "$dir/.incoming" ]]
}
check "pacs get (C-GET): the study lands in the folder" \
  "${cli[@]}" pacs get "${node[@]}" --study "$study" --out "$tmp/get"
check "C-GET: 5 files named by SOP Instance UID, same pixels" same_files "$tmp/get"
check "pacs get --move (C-MOVE to our SCP)" \
  "${cli[@]}" pacs get "${node[@]}" --study "$study" --out "$tmp/move" --move --port "$our_port"
check "C-MOVE: 5 files, same pixels, no leftovers" same_files "$tmp/move"
XDG_CACHE_HOME="$tmp/cache" "${cli[@]}" pacs get "${node[@]}" --study "$study" >"$tmp/cache.out"
check "pacs get without --out: the cache folder, opened as a study" \
  grep -q "hepascope $tmp/cache/hepascope/pacs/$study" "$tmp/cache.out"
check "pacs get: a study the node lacks is an error" \
  bash -c "! '$HEPASCOPE_CLI' pacs get --node '$orthanc_node' --study 1.2.3.4 --out '$tmp/nothing' 2>/dev/null"

# Label the retrieved images as the phantoms' ground truth (their sidecars, matched by SOP UID),
# classify one ROI, then write the results and send them back.
for f in "$tmp"/study/*.dcm; do
  cp "$f.hepascope.json" "$tmp/get/$(sop_uid "$f").dcm.hepascope.json"
done
hcc=$(ls "$tmp"/study/hcc-*.dcm | head -n 1)
roi=$(python3 -c "import json; r = json.load(open('$hcc.hepascope.json'))['rois'][0]; print('%d,%d,%d,%d' % (r['x'], r['y'], r['width'], r['height']))")
"${cli[@]}" classify "$tmp/get/$(sop_uid "$hcc").dcm" --roi "$roi" --json >"$tmp/classify.json"
check "classify an ROI of a retrieved image" \
  test "$(json 'len(d["results"][0]["probabilities"])' <"$tmp/classify.json")" = 5
check "results --node: SR, maps, views and PDF written and sent" \
  "${cli[@]}" results "$tmp/get" --out "$tmp/results" "${node[@]}"
check "results: 5 SR, 5 SEG, 5 views, report.pdf and report.dcm" test \
  "$(ls "$tmp"/results/*.sr.dcm | wc -l) $(ls "$tmp"/results/*.seg.dcm | wc -l) $(ls "$tmp"/results/*.view.dcm | wc -l) $(ls "$tmp"/results/report.* | wc -l)" = "5 5 5 2"

# Found in Orthanc: the study now also has SR, SEG, OT and DOC series.
"${cli[@]}" pacs find "${node[@]}" --study "$study" --json >"$tmp/series2.json"
check "pacs find: the study now holds SR, SEG, OT and DOC series" test \
  "$(json '" ".join(sorted(set(m["modality"] for m in d["matches"])))' <"$tmp/series2.json")" = "DOC OT SEG SR US"
sr_series=$(json '[m["series_uid"] for m in d["matches"] if m["modality"] == "SR"][0]' <"$tmp/series2.json")
check "pacs get --series: the SR series back from Orthanc" \
  "${cli[@]}" pacs get "${node[@]}" --study "$study" --series "$sr_series" --out "$tmp/sr"

# The SRs read back give the ROIs that were labeled.
same_rois () {
  local sr
  [[ $(ls "$tmp"/sr/*.dcm | wc -l) -eq 5 ]] || return 1
  for sr in "$tmp"/sr/*.dcm; do
    "${cli[@]}" results --import "$sr" --json >"$tmp/import.json" || return 1
    python3 - "$tmp/import.json" "$tmp/study" <<'PY' || return 1
import glob, json, sys
imported = json.load(open(sys.argv[1]))
want = None
for sidecar in glob.glob(sys.argv[2] + "/*.hepascope.json"):
    rois = json.load(open(sidecar))["rois"]
    if any(r["id"] == imported["rois"][0]["id"] for r in rois):
        want = rois
keys = ("id", "frame", "x", "y", "width", "height", "label", "rater")
got = [{k: r[k] for k in keys} for r in imported["rois"]]
sys.exit(0 if want is not None and got == [{k: r[k] for k in keys} for r in want] else 1)
PY
  done
}
check "results --import: each SR gives the same ROIs (id, frame, rectangle, label, rater)" same_rois
rm -f "$tmp"/get/*.hepascope.json
sr=$(ls "$tmp"/sr/*.dcm | head -n 1)
check "results --import --apply: the ROIs restored into the retrieved image's sidecar" \
  "${cli[@]}" results --import "$sr" --apply "$tmp/get"
check "--apply: exactly one sidecar written" test "$(ls "$tmp"/get/*.hepascope.json | wc -l)" = 1

# Failures: exit 1 and one line naming the node and the reason.
one_line () {
  local pattern="$1"; shift
  local rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  cat "$tmp/err" >>"$tmp/all-errors"
  [[ $rc -eq 1 && $(wc -l <"$tmp/err") -eq 1 && ! -s "$tmp/out" ]] && grep -q "$pattern" "$tmp/err"
}
closed=$(free_port)
check "unreachable node: one line" \
  one_line "HEPATEST@127.0.0.1:$closed: node unreachable" \
  "${cli[@]}" pacs echo --node "HEPATEST@127.0.0.1:$closed"
check "refused association (our AE title unknown to the archive): one line" \
  one_line "association refused: the node does not accept our AE title “STRANGER”" \
  "${cli[@]}" pacs find "${node[@]}" --aet STRANGER
check "wrong AE title: one line" \
  one_line "does not answer to the AE title “NOTORTHANC” (wrong AE title)" \
  "${cli[@]}" pacs get --node "NOTORTHANC@127.0.0.1:$orthanc_port" --study "$study" --out "$tmp/x"
silent=$(free_port)
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $silent)); s.listen(4)
open('$tmp/listening', 'w').close()
c = s.accept(); time.sleep(30)" &
listener_pid=$!
for _ in $(seq 1 100); do [[ -e "$tmp/listening" ]] && break; sleep 0.1; done
start=$(date +%s)
check "timeout (a node that accepts TCP and never answers): one line" \
  one_line "no answer within 2 s while verifying (timeout)" \
  "${cli[@]}" pacs echo --node "SILENT@127.0.0.1:$silent" --timeout 2
check "timeout: given up after about 2 s" test $(( $(date +%s) - start )) -le 6
kill "$listener_pid" 2>/dev/null
listener_pid=
check "no patient data in the error lines" bash -c "! grep -q 'PHANTOM\|Phantom' '$tmp/all-errors'"

orthanc_stop
check "Orthanc stopped" bash -c "! '$HEPASCOPE_CLI' pacs echo --node '$orthanc_node' --timeout 1 2>/dev/null"
echo "1..$n"
exit $failed
