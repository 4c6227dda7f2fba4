#!/usr/bin/env bash
# Install featurelens and its test tools into ./.venv, plus the Debian data package the tests read.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
fi
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q "torch==2.13.0"   # the CPU build; a bare 'torch' would pull a multi-GB CUDA build
pip install -q -e ".[test,ray]"   # ray: the --engine ray tests run too (+≈20–50 s, +355 MB)
