#!/usr/bin/env bash
# Create .venv and install FactLedger with its test and benchmark tools (matplotlib draws the
# reliability diagram of bench/verdicts.py; playwright drives Debian's chromium in the review page's
# browser test: `apt-get install chromium`, which .ci/run does). torch is installed first, on its own,
# pinned to the CPU build (an unpinned torch pulls a multi-GB CUDA build).
# Outside this project's build machines, add the CPU wheel index if you like:
#   TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q torch==2.13.0 ${TORCH_PIP_ARGS:-}
.venv/bin/python -m pip install -q -e '.[test,bench]'
echo "installed: $(.venv/bin/factledger --version)"
