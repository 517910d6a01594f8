#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what is missing, builds, and starts Hepascope on the bundled demo study.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hepa_install_and_build
demo="$top/data/samples"
if [[ $# -gt 0 ]]; then
  exec "$builddir/app/hepascope" "$@"
elif compgen -G "$demo/*.dcm" >/dev/null; then
  exec "$builddir/app/hepascope" "$demo"
else
  exec "$builddir/app/hepascope"
fi
