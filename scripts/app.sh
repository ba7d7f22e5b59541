#!/usr/bin/env bash
# Set everything up on a fresh machine and start the app on the shipped catalog:
# http://localhost:8501 (listens on 127.0.0.1 only; to serve a class, pass --address and
# --auth: see README.md, "Serving a class").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/workbench --workspace . app "$@"
