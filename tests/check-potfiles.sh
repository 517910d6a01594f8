#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when a source file with translatable strings is missing from po/POTFILES.in, or when
# POTFILES.in lists a file that does not exist. TAP output.
set -u
top="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top"
listed=$(grep -v '^#' po/POTFILES.in | sed '/^$/d' | sort)
found=$( (grep -rlE '(^|[^A-Za-z0-9_])(N?_|C_|NC_|g_dngettext|ngettext)\s*\(\s*"' app ui core --include='*.c' 2>/dev/null;
          grep -rl 'translatable="yes"' app ui --include='*.ui' 2>/dev/null;
          ls data/*.desktop.in data/*.metainfo.xml.in data/*.gschema.xml 2>/dev/null) | sort -u)
n=0; bad=0
echo "TAP version 13"
for f in $found; do
  n=$((n + 1))
  if grep -qxF "$f" <<<"$listed"; then echo "ok $n - $f listed"; else echo "not ok $n - $f has translatable strings but is missing from po/POTFILES.in"; bad=1; fi
done
for f in $listed; do
  n=$((n + 1))
  if [[ -f "$f" ]]; then echo "ok $n - $f exists"; else echo "not ok $n - po/POTFILES.in lists $f, which does not exist"; bad=1; fi
done
echo "1..$n"
exit $bad
