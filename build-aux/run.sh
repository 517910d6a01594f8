#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what is missing, builds, and starts Hepascope uninstalled the way `meson devenv` does
# (its compiled GSettings schema, so Preferences work and are remembered, and its translations).
# Without arguments it opens the demo study: a copy in the user's data folder, so regions drawn
# on it never change the source tree (the app's "Open Demo Study" opens the same copy).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hepa_install_and_build
run () {
  exec meson devenv -C "$builddir" -w "$PWD" "$builddir/app/hepascope" "$@"
}
demo_src="$top/data/samples"
demo="${XDG_DATA_HOME:-$HOME/.local/share}/hepascope/demo"
if [[ $# -gt 0 ]]; then
  run "$@"
elif compgen -G "$demo_src/*.dcm" >/dev/null; then
  mkdir -p "$demo"
  # Files only; one already in the copy holds the user's regions and stays.
  find "$demo_src" -maxdepth 1 -type f -exec cp -n {} "$demo/" \;
  run "$demo"
else
  run
fi
