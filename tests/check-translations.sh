#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when a language listed in po/LINGUAS has a message of the current sources untranslated
# or fuzzy, or when its .po file does not pass msgfmt -c. The template is extracted afresh from
# po/POTFILES.in with the arguments of meson's i18n 'glib' preset, so the check sees the sources
# as they are now, not a stale hepascope.pot. TAP output.
# Usage: check-translations.sh [SOURCE_ROOT]
set -u
top="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top" || exit 1

echo "TAP version 13"
for tool in xgettext msgmerge msgfmt msgattrib; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool (gettext) is not installed"
    exit 0
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
bad=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; bad=1; }

# The same extraction as meson's i18n.gettext (preset: 'glib'): C sources by the GLib keywords,
# the .ui, .desktop.in, .metainfo.xml.in and .gschema.xml files by xgettext's own ITS rules.
if xgettext --package-name=hepascope -D "$top" -f po/POTFILES.in -o "$tmp/hepascope.pot" \
     --from-code=UTF-8 --add-comments \
     --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=g_dcgettext:2 \
     --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
     --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
     --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
     --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
     --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
     --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
     --flag=g_print:1:c-format --flag=g_printerr:1:c-format --flag=g_printf:1:c-format \
     --flag=g_fprintf:2:c-format --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format \
     2>"$tmp/xgettext.log"; then
  total=$(msgattrib --no-obsolete "$tmp/hepascope.pot" 2>/dev/null | grep -c '^msgid ')
  ok "messages extracted from po/POTFILES.in ($((total - 1)) messages)"
else
  not_ok "xgettext over po/POTFILES.in failed: $(grep -m1 -i error "$tmp/xgettext.log")"
  echo "1..$n"
  exit 1
fi

langs=$(sed -e 's/#.*//' po/LINGUAS | tr -s ' \t' '\n\n' | sed '/^$/d')
if [[ -z "$langs" ]]; then
  not_ok "po/LINGUAS lists no language"
fi

for lang in $langs; do
  po="po/$lang.po"
  if [[ ! -f "$po" ]]; then
    not_ok "$lang: po/LINGUAS lists it but $po does not exist"
    continue
  fi
  if err=$(msgfmt -c -o /dev/null "$po" 2>&1); then
    ok "$lang: msgfmt -c accepts $po"
  else
    not_ok "$lang: msgfmt -c rejects $po: $(grep -m1 -v '^msgfmt: found' <<<"$err")"
  fi
  if ! msgmerge -q "$po" "$tmp/hepascope.pot" -o "$tmp/$lang.po" 2>"$tmp/$lang.log"; then
    not_ok "$lang: msgmerge of $po with the current sources failed: $(head -1 "$tmp/$lang.log")"
    continue
  fi
  # Count entries, not lines: every selected message starts with one msgid; the header is one.
  untranslated=$(msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ')
  fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ')
  untranslated=$((untranslated > 0 ? untranslated - 1 : 0))
  fuzzy=$((fuzzy > 0 ? fuzzy - 1 : 0))
  if [[ $untranslated -eq 0 && $fuzzy -eq 0 ]]; then
    ok "$lang: all messages of the current sources are translated"
  else
    first=$( (msgattrib --no-wrap --untranslated --no-obsolete "$tmp/$lang.po";
              msgattrib --no-wrap --only-fuzzy --no-obsolete "$tmp/$lang.po") |
             grep -v '^msgid ""' | grep -m1 '^msgid ' | cut -c7-80)
    not_ok "$lang: $untranslated untranslated and $fuzzy fuzzy messages (first: $first); run ninja hepascope-update-po and translate them"
  fi
  if err=$(msgfmt -c -o /dev/null "$tmp/$lang.po" 2>&1); then
    ok "$lang: msgfmt -c accepts $po merged with the current sources"
  else
    not_ok "$lang: msgfmt -c rejects $po merged with the current sources: $(grep -m1 -v '^msgfmt: found' <<<"$err")"
  fi
done

for po in po/*.po; do
  [[ -e "$po" ]] || continue
  lang=$(basename "$po" .po)
  if grep -qxF "$lang" <<<"$langs"; then
    continue
  fi
  not_ok "$po exists but po/LINGUAS does not list $lang, so it is never built"
done

echo "1..$n"
exit $bad
