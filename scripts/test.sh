#!/usr/bin/env bash
# Set everything up on a fresh machine and run the whole test suite (what CI runs).
#   - creates/updates .venv with Python 3.11 and installs the project with its dev extra
#   - installs Debian's chromium for the browser tests if it is missing (never a downloaded browser)
#   - installs Debian's tesseract-ocr for OCR of scanned PDFs if it is missing
#   - runs pytest (extra arguments are passed on, e.g. `scripts/test.sh -m slow`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ ! -x /usr/bin/tesseract ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq tesseract-ocr >/dev/null
fi
exec .venv/bin/python -m pytest "$@"
