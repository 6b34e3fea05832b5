#!/usr/bin/env sh
# Install the Familiar bundle (the folder this script sits in after `make package`) for the
# current user, or system-wide with --prefix /usr/local as root. No network, no compiling.
#   ./install.sh [--prefix DIR]      default DIR: ~/.local
# Puts the bundle in DIR/lib/familiar, a `familiar` link in DIR/bin, the menu entry in
# DIR/share/applications, icons in DIR/share/icons/hicolor/<size>/apps, AppStream metadata in
# DIR/share/metainfo. Undo with DIR/lib/familiar/uninstall.sh.
set -eu

PREFIX="${HOME}/.local"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

SRC=$(cd "$(dirname "$0")" && pwd)
[ -x "$SRC/familiar" ] || { echo "no familiar executable next to $0: run it from the bundle" >&2; exit 1; }
FILES="$SRC/_internal/packaging/linux"
ICONS="$SRC/_internal/assets/icons"
APPDIR="$PREFIX/lib/familiar"
BINDIR="$PREFIX/bin"
SHARE="$PREFIX/share"

if [ "$SRC" != "$APPDIR" ]; then
  rm -rf "$APPDIR"
  mkdir -p "$APPDIR"
  cp -a "$SRC/." "$APPDIR/"
fi
mkdir -p "$BINDIR"
ln -sf "$APPDIR/familiar" "$BINDIR/familiar"

for size in 16 22 24 32 48 64 128 256 512; do
  install -D -m 644 "$ICONS/familiar-$size.png" "$SHARE/icons/hicolor/${size}x${size}/apps/familiar.png"
done
install -D -m 644 "$ICONS/familiar.svg" "$SHARE/icons/hicolor/scalable/apps/familiar.svg"

# The menu entry runs this installation by its full path (~/.local/bin may not be on PATH).
mkdir -p "$SHARE/applications" "$SHARE/metainfo"
sed -e "s|^Exec=familiar|Exec=$APPDIR/familiar|" -e "s|^TryExec=familiar|TryExec=$APPDIR/familiar|" \
  "$FILES/familiar.desktop" > "$SHARE/applications/familiar.desktop"
chmod 644 "$SHARE/applications/familiar.desktop"
install -m 644 "$FILES/io.github.familiar.Familiar.metainfo.xml" "$SHARE/metainfo/"

if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$SHARE/applications" || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true; fi

echo "Installed Familiar in $APPDIR"
echo "Start it from the applications menu, or run: $BINDIR/familiar"
