#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# How long the workbench's main loop is kept from running while inference, decoding or a save is
# in flight, as HEPASCOPE_DEBUG=timing logs it (a 4 ms high-priority tick; a gap above 20 ms means
# the loop was blocked for more than 16 ms). Under a private Xvfb, with X pointer events:
#   1. a phantom PNG: N slow ROI drags (live inference while the pointer moves) and releases;
#   2. the demo cine (DICOM, JPEG frames): playback, with ROI drags in between (a press on the
#      image pauses it; P plays on after each drag).
# Prints the worst, p99 and median gap of each run, and the main thread's own CPU time within the
# gaps (a gap with little CPU time is the thread waiting for a core, not blocked by its work) and
# in each frame's update, layout and paint phases; the load average before and after, since the
# gaps (less so the CPU times) depend on what else runs.
#   tests/ui/bench-main-loop.sh BUILDDIR [N] [MODEL]
# MODEL defaults to a ResNet50 (input 224) with seeded random weights: the same compute as a
# trained one. A benchmark: it prints figures and asserts nothing about them.
set -euo pipefail
builddir=$(cd "${1:?usage: bench-main-loop.sh BUILDDIR [N] [MODEL]}" && pwd)
n=${2:-6}
model=${3:-}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
if [[ -n "$model" ]]; then "$builddir/tests/ui/make-ui-fixtures" "$work" >/dev/null; else "$builddir/tests/ui/make-ui-fixtures" "$work" resnet50 >/dev/null; fi
[[ -n "$model" ]] || model="$work/random-model.safetensors"
cp "$srcdir/data/samples/hemangioma-cine.dcm" "$work/cine.dcm"

cat > "$work/run.sh" <<'INNER'
set -eu
export GDK_BACKEND=x11 GSK_RENDERER=cairo HEPASCOPE_DEBUG=timing XDG_DATA_HOME="$work/data"

# start FILE LOG TITLE: the app on FILE, once its window is up and the model loaded.
start () {
  "$builddir/app/hepascope" "$1" 2>"$2" &
  pid=$!
  timeout 60 xdotool search --sync --onlyvisible --name "$3" >/dev/null
  for _ in $(seq 1 300); do grep -q loaded "$2" && break; sleep 0.1; done
  sleep 1
}

# drag I: a slow drag of about 1.2 s in 24 steps, so that live inference runs while it moves.
drag () {
  local x=$((300 + ($1 % 5) * 20)) y=$((250 + ($1 % 3) * 25))
  xdotool mousemove $x $y mousedown 1
  for s in $(seq 1 24); do
    xdotool mousemove $((x + s * 4)) $((y + s * 3 + ($1 % 2)))
    sleep 0.05
  done
  xdotool mouseup 1
  sleep 1.5
  xdotool key Delete
  sleep 0.5
}

stop () {
  xdotool key ctrl+q
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

start "$work/phantom-hemangioma.png" "$work/drags.log" '^phantom-hemangioma\.png$'
for i in $(seq 1 "$n"); do drag "$i"; done
stop

start "$work/cine.dcm" "$work/cine.log" '^cine\.dcm$'
xdotool mousemove 200 200 key p
sleep 3
# A press on the image pauses the cine (issue 20 item 3): play on after each drag.
for i in $(seq 1 "$n"); do drag "$i"; xdotool key p; sleep 1; done
xdotool key p
sleep 0.5
stop
INNER
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
builddir="$builddir" work="$work" n="$n" HEPASCOPE_MODEL="$model" \
  xvfb-run -a -s "-screen 0 1400x900x24 -noreset" bash "$work/run.sh"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for run in drags cine; do
  line=$(grep -o 'main loop while work was in flight: .*' "$work/$run.log" || true)
  if [[ -z "$line" ]]; then
    echo "$run: no main loop figures in the log"; status=1; continue
  fi
  echo "$run: ${line#main loop while work was in flight: }"
  grep -o "main thread CPU time.*" "$work/$run.log" | sed "s/^/$run: /"
  grep -o "cine playback: .*" "$work/$run.log" | sed "s/^/$run: /" || true
  grep -c 'roi-released' "$work/$run.log" | sed "s/^/$run: releases timed: /"
done
exit $status
