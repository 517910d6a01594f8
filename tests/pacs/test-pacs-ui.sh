#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The workbench against a throwaway Orthanc (tests/pacs/orthanc.sh): pushes a phantom study,
# then runs test-pacs-ui (Preferences' Verify; the Query and Retrieve dialog finds the study,
# retrieves it with C-GET and C-MOVE, and it opens in the window). TAP; skips without Orthanc,
# dcmodify or a display.
#   test-pacs-ui.sh TEST-BINARY [--screenshot PNG]  (PNG: the dialog, rendered and via import)
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/orthanc.sh"
binary="$1"; shift
screenshot=
[[ "${1:-}" == --screenshot ]] && screenshot="$2"

for tool in Orthanc dcmodify python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "TAP version 13"
    echo "1..0 # SKIP $tool is not installed (Debian: orthanc, dcmtk, python3)"
    exit 0
  fi
done
if [[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  echo "TAP version 13"
  echo "1..0 # SKIP no display (run the ui suite under xvfb-run)"
  exit 0
fi
: "${HEPASCOPE_CLI:?HEPASCOPE_CLI must name hepascope-cli}"

tmp=$(mktemp -d)
cleanup () {
  orthanc_stop
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! orthanc_start "$tmp/orthanc" >"$tmp/start.log"; then
  echo "TAP version 13"
  echo "1..1"
  echo "not ok 1 - Orthanc starts on loopback"
  sed 's/^/# /' "$tmp/start.log"
  exit 1
fi
if ! make_study "$tmp/study" 1 23 \
   || ! "$HEPASCOPE_CLI" pacs send --node "$orthanc_node" "$tmp/study" >"$tmp/send.log" 2>&1; then
  echo "TAP version 13"
  echo "1..1"
  echo "not ok 1 - phantoms pushed to Orthanc"
  sed 's/^/# /' "$tmp/send.log"
  exit 1
fi

export HEPA_TEST_PACS_NODE="$orthanc_node"
export HEPA_TEST_OUR_PORT="$our_port"
export HEPA_TEST_PATIENT_ID="PHANTOM-23"
HEPA_TEST_N_IMAGES=$(ls "$tmp/study"/*.dcm | wc -l)
export HEPA_TEST_N_IMAGES
shooter=
if [[ -n "$screenshot" ]]; then
  # The dialog rendered by the test, and the whole screen while the test holds it open.
  export HEPA_TEST_DIALOG_PNG="$screenshot" HEPA_TEST_HOLD=4
  ( for _ in $(seq 1 120); do [[ -s "$screenshot" ]] && break; sleep 0.5; done
    sleep 1
    import -window root "${screenshot%.png}-root.png" ) &
  shooter=$!
fi
# GApplication warns (fatal in tests) without a session bus: give it a private one.
run=("$binary" --tap)
if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]] && command -v dbus-run-session >/dev/null 2>&1; then
  run=(dbus-run-session -- "${run[@]}")
fi
"${run[@]}"
status=$?
[[ -n "$shooter" ]] && wait "$shooter"
exit $status
