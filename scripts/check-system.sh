#!/usr/bin/env bash
# Checks the system libraries Qt needs and names the Debian/Ubuntu packages that provide them.
# Usage: scripts/check-system.sh [gui]   ("gui" also checks what a real window on X11 needs)
set -u
missing=()
need() {  # need LIBRARY PACKAGE
  ldconfig -p 2>/dev/null | grep -q "$1" || missing+=("$2")
}
need "libEGL.so.1" libegl1
need "libGL.so.1" libgl1
need "libxkbcommon.so.0" libxkbcommon0
need "libfontconfig.so.1" libfontconfig1
need "libglib-2.0.so.0" libglib2.0-0
need "libdbus-1.so.3" libdbus-1-3
if [ "${1:-}" = "gui" ] && [ "${QT_QPA_PLATFORM:-}" != "offscreen" ]; then
  need "libxcb-icccm.so.4" libxcb-icccm4
  need "libxcb-keysyms.so.1" libxcb-keysyms1
  need "libxcb-cursor.so.0" libxcb-cursor0
  need "libxcb-image.so.0" libxcb-image0
  need "libxcb-render-util.so.0" libxcb-render-util0
  need "libxcb-shape.so.0" libxcb-shape0
  need "libxcb-xkb.so.1" libxcb-xkb1
  need "libxkbcommon-x11.so.0" libxkbcommon-x11-0
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Fokus: Qt saknar systembibliotek. Installera dem (Debian/Ubuntu):" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
exit 0
