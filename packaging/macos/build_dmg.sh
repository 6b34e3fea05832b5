#!/usr/bin/env bash
# Build Familiar.app and Familiar-<version>.dmg on macOS (cannot run on Linux: it needs
# PyInstaller on macOS, plutil and hdiutil). From the repository root:
#   packaging/macos/build_dmg.sh [--tray-only] [--sign "Developer ID Application: ..."]
# --tray-only: LSUIElement=true, a menu-bar app without a Dock icon.
# --sign: codesign the .app (hardened runtime) before the dmg is made; notarize separately:
#   xcrun notarytool submit dist/Familiar-<version>.dmg --keychain-profile ... --wait
set -euo pipefail
cd "$(dirname "$0")/../.."

TRAY_ONLY=false
IDENTITY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tray-only) TRAY_ONLY=true ;;
    --sign) IDENTITY="$2"; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

[ "$(uname -s)" = "Darwin" ] || { echo "build_dmg.sh runs on macOS only" >&2; exit 1; }
PY=.venv/bin/python
VERSION=$($PY -c 'import app; print(app.__version__)')
APP=dist/Familiar.app

$PY -m PyInstaller --noconfirm packaging/familiar.spec

# Our Info.plist replaces PyInstaller's generated one; the version comes from the app.
cp packaging/macos/Info.plist "$APP/Contents/Info.plist"
plutil -replace CFBundleVersion -string "$VERSION" "$APP/Contents/Info.plist"
plutil -replace CFBundleShortVersionString -string "$VERSION" "$APP/Contents/Info.plist"
plutil -replace LSUIElement -bool "$TRAY_ONLY" "$APP/Contents/Info.plist"
cp assets/icons/familiar.icns "$APP/Contents/Resources/familiar.icns"
plutil -lint "$APP/Contents/Info.plist"

if [ -n "$IDENTITY" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$IDENTITY" "$APP"
  codesign --verify --deep --strict "$APP"
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG="dist/Familiar-$VERSION.dmg"
rm -f "$DMG"
hdiutil create -volname "Familiar $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
hdiutil verify "$DMG"
echo "built $DMG"
