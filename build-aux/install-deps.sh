#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the Debian 12 packages Hepascope needs to build, run and test. Idempotent: packages
# already present are not touched. Usage: build-aux/install-deps.sh [--with-torch]
#   --with-torch  also the PyTorch packages used only to regenerate reference fixtures and to run
#                 the side-by-side benchmarks (never at run time).
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config gettext
  # libraries
  libglib2.0-dev libgtk-4-dev libjson-glib-dev libopenblas-dev libpng-dev libjpeg62-turbo-dev
  libdcmtk-dev zlib1g-dev
  # OpenSSL's SHA-256 hashes model files about 8x faster than GLib's
  libssl-dev
  # DCMTK's tools make the DICOM test fixtures (img2dcm, dcmcjpeg, dcmcjpls, dcmcrle)
  dcmtk
  # tests: a headless display, pointer events, screenshots, validators, sanitizer runtimes
  xvfb xauth xdotool imagemagick desktop-file-utils appstream-util appstream
  # the end-to-end UI test gives the app a private session bus (dbus-daemon)
  dbus-daemon
  clang libclang-rt-14-dev valgrind
  orthanc dicom3tools python3-pydicom  # PACS tests: a real archive, dciodvfy, pydicom (issue 23)
  # fonts for readable screenshots; Thai glyphs (the th translation) need the TLWG fonts
  fonts-dejavu-core fonts-thai-tlwg
)
if [[ "${1:-}" == "--with-torch" ]]; then
  packages+=(python3-torch python3-torchvision python3-numpy)
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: this script needs Debian's apt-get and dpkg (Debian 12 or a derivative)." >&2
  echo "install-deps: install these packages by hand: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages are already installed."
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run this script as root or install sudo." >&2
  exit 1
fi

echo "install-deps: installing ${#missing[@]} missing packages with apt-get: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done."
