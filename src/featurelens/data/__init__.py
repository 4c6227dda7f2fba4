"""Every input source: image sources (`data.sources`: a folder, a built-in dataset, an iterable), clip sources
(`audio.clip_source`), and the real datasets featurelens can read offline (installed from Debian packages)."""
