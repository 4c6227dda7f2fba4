#!/usr/bin/env bash
# Install featurelens and its test tools into ./.venv, plus the Debian packages the tests use:
# the Fashion-MNIST data and Chromium (browser tests drive it through Playwright; no browser is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q "torch==2.13.0"   # the CPU build; a bare 'torch' would pull a multi-GB CUDA build
pip install -q -e ".[test]"
