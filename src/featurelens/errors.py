"""The one error type for user mistakes: the CLI prints its message on one line and exits 2."""


class FeaturelensError(Exception):
    """A problem with the user's input, with a message that names the problem and the fix."""
