#!/bin/sh
# Take the README screenshots under a virtual X server (needs xvfb: apt-get install xvfb).
# Usage: scripts/screenshots.sh [--theme dark] [--out docs/screenshots]
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
export QT_QPA_PLATFORM=xcb
exec xvfb-run -a -s "-screen 0 1400x900x24" "$PYTHON" tools/screenshots.py "$@"
