"""Real datasets featurelens can read offline (installed from Debian packages)."""
