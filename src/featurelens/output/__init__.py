"""What every technique's writer shares: PNGs and contact sheets, atomic writes and folder runs, output paths, the page
environment, the spectrogram picture. Each technique's own writer is its `files.py`, beside its result."""
