#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what is missing, builds, and runs every test suite (core, ui under a virtual display,
# slow). Ends with `N passed, N failed`; exits non-zero when anything failed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hepa_install_and_build
status=0
xvfb-run -a -s "-screen 0 1400x900x24 -noreset" meson test -C "$builddir" --print-errorlogs "$@" || status=$?
hepa_summary "$builddir/meson-logs/testlog.json"
exit $status
