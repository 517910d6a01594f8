# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by run.sh and test.sh: install what is missing, configure once, build.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
builddir="${HEPASCOPE_BUILDDIR:-$top/_build}"

hepa_install_and_build () {
  "$top/build-aux/install-deps.sh" "$@"
  if [[ -f "$builddir/meson-private/coredata.dat" ]]; then
    meson setup --reconfigure "$builddir" "$top" >/dev/null
  else
    meson setup "$builddir" "$top"
  fi
  meson compile -C "$builddir"
}

# Prints `N passed, N failed[, N skipped]` from one or more meson testlog.json files.
hepa_summary () {
  python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        failed += 1
        print(f"summary: {path}: missing test log", file=sys.stderr)
        continue
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
}
