#!/usr/bin/env sh
# Remove a Familiar installed by install.sh. Your data (the encrypted profile, models, logs) is
# kept unless you pass --delete-data; see "Delete all data" in the README.
#   DIR/lib/familiar/uninstall.sh [--prefix DIR] [--delete-data]     default DIR: ~/.local
set -eu

PREFIX="${HOME}/.local"
DELETE_DATA=false
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift ;;
    --delete-data) DELETE_DATA=true ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

APPDIR="$PREFIX/lib/familiar"
SHARE="$PREFIX/share"
[ -x "$APPDIR/familiar" ] || { echo "Familiar is not installed in $APPDIR" >&2; exit 1; }

DATA="${XDG_DATA_HOME:-$HOME/.local/share}/Familiar"
STATE="${XDG_STATE_HOME:-$HOME/.local/state}/Familiar"
# A running instance is asked to lock (drop its keys) before its files go away; no-op when none
# runs. Only when a profile exists: without one there is nothing to lock.
if [ -d "$DATA" ]; then "$APPDIR/familiar" lock >/dev/null 2>&1 || true; fi

rm -f "$SHARE/applications/familiar.desktop" "$SHARE/metainfo/io.github.familiar.Familiar.metainfo.xml"
for dir in "$SHARE"/icons/hicolor/*/apps; do
  rm -f "$dir/familiar.png" "$dir/familiar.svg"
done
# Start at login (written by the app's setting): $XDG_CONFIG_HOME/autostart/familiar.desktop
rm -f "${XDG_CONFIG_HOME:-$HOME/.config}/autostart/familiar.desktop"
if [ -L "$PREFIX/bin/familiar" ] && [ "$(readlink "$PREFIX/bin/familiar")" = "$APPDIR/familiar" ]; then
  rm -f "$PREFIX/bin/familiar"
fi
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$SHARE/applications" || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$SHARE/icons/hicolor/icon-theme.cache" ]; then
  gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true
fi
rm -rf "$APPDIR"
# The cache holds only what the program made from its own files (the embedding model's ONNX
# form): it goes with the program.
rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/Familiar"
echo "Removed Familiar from $APPDIR"

if [ "$DELETE_DATA" = true ]; then
  rm -rf "$DATA" "$STATE"
  echo "Deleted $DATA and $STATE"
  echo "A key kept in the system keychain (service \"Familiar\") is removed with:"
  echo "  secret-tool clear service Familiar"
elif [ -d "$DATA" ]; then
  echo "Your data is still in $DATA (delete it with --delete-data)"
fi
