#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Measures ROI released -> probabilities on screen in the real workbench, as HEPASCOPE_DEBUG=timing
# logs it. Draws N regions with X pointer events (xdotool) under a private Xvfb.
#   tests/ui/bench-roi-latency.sh BUILDDIR [N] [MODEL]
# MODEL defaults to a ResNet50 (input 224) with seeded random weights: the same compute as a
# trained one. Prints each figure and the median.
set -euo pipefail
builddir=$(cd "${1:?usage: bench-roi-latency.sh BUILDDIR [N] [MODEL]}" && pwd)
n=${2:-10}
model=${3:-}
work=$(mktemp -d)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
if [[ -n "$model" ]]; then "$builddir/tests/ui/make-ui-fixtures" "$work" >/dev/null; else "$builddir/tests/ui/make-ui-fixtures" "$work" resnet50 >/dev/null; fi
[[ -n "$model" ]] || model="$work/random-model.safetensors"

cat > "$work/run.sh" <<'INNER'
set -eu
export GDK_BACKEND=x11 GSK_RENDERER=cairo HEPASCOPE_DEBUG=timing XDG_DATA_HOME="$work/data"
"$builddir/app/hepascope" "$work/phantom-hemangioma.png" 2>"$work/app.log" &
pid=$!
xdotool search --sync --onlyvisible --name '^phantom-hemangioma\.png$' >/dev/null
for _ in $(seq 1 300); do grep -q loaded "$work/app.log" && break; sleep 0.1; done
sleep 1
for i in $(seq 1 "$n"); do
  x=$((300 + (i % 5) * 25)); y=$((250 + (i % 3) * 30))
  xdotool mousemove $x $y mousedown 1
  xdotool mousemove $((x + 30)) $((y + 20)) mousemove $((x + 70)) $((y + 60)) \
          mousemove $((x + 90 + i)) $((y + 80 + i)) mouseup 1
  sleep 2.5
  xdotool key Delete
  sleep 1
done
kill "$pid"; wait "$pid" 2>/dev/null || true
INNER
HEPASCOPE_MODEL="$model" builddir="$builddir" work="$work" n="$n" \
  xvfb-run -a -s "-screen 0 1400x900x24 -noreset" bash "$work/run.sh"
grep "roi-released" "$work/app.log" || { echo "no timing lines"; exit 1; }
grep -o 'screen: [0-9.]*' "$work/app.log" | awk '{print $2}' | sort -n |
  awk '{a[NR]=$1} END {printf "n=%d median=%.1f ms min=%.1f max=%.1f\n", NR, a[int((NR+1)/2)], a[1], a[NR]}'
