#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Issue 20 item 6: `meson devenv` (which build-aux/run.sh uses) gives the uninstalled app its
# compiled GSettings schema and its compiled translations.
#   check-devenv.sh BUILDDIR
set -u
builddir=$(cd "$1" && pwd)
echo "TAP version 13"
echo "1..2"
env_out=$(cd / && meson devenv -C "$builddir" -w / env 2>&1)
schema=$(sed -n 's/^GSETTINGS_SCHEMA_DIR=//p' <<<"$env_out" | cut -d: -f1)
locale=$(sed -n 's/^HEPASCOPE_LOCALEDIR=//p' <<<"$env_out")
if [[ -n "$schema" && -f "$schema/gschemas.compiled" ]]; then
  echo "ok 1 - GSETTINGS_SCHEMA_DIR=$schema holds the compiled schema"
else
  echo "not ok 1 - GSETTINGS_SCHEMA_DIR is '${schema}' (no compiled schema there)"
fi
if [[ -n "$locale" && -f "$locale/de/LC_MESSAGES/hepascope.mo" ]]; then
  echo "ok 2 - HEPASCOPE_LOCALEDIR=$locale holds the compiled catalogues"
else
  echo "not ok 2 - HEPASCOPE_LOCALEDIR is '${locale}' (no de catalogue there)"
fi
