"""The one error type for user mistakes: the CLI prints its message on one line and exits 2."""

from __future__ import annotations

import re

_OBJECT_REPR = re.compile(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>")  # `<_io.BytesIO object at 0x…>` in libraries' messages
PARAMETER = "{parameter}"  # stands for the keyword argument at fault: its Python name, or its flag on the command line


class FeaturelensError(Exception):
    """A problem with the user's input, with a message that names the problem and the fix.

    When the mistake is one keyword argument's, `parameter` names it and the message may say
    `{parameter}` where the argument is meant: Python users read `steps must be positive`, the
    command line prints `--steps must be positive`.
    """

    def __init__(self, message: str, parameter: str | None = None):
        self.template = message
        self.parameter = parameter
        super().__init__(self.message())

    def message(self, flag: str | None = None) -> str:
        """The message, naming the parameter as `flag` (default: its Python name)."""
        if self.parameter is None:
            return self.template
        return self.template.replace(PARAMETER, flag or self.parameter)


def bad_parameter(name: str, problem: str) -> FeaturelensError:
    """An error about one keyword argument: `bad_parameter("steps", "must be positive, got 0")`."""
    return FeaturelensError(f"{PARAMETER} {problem}", parameter=name)


def require_positive(name: str, value: float | int, allow_zero: bool = False) -> None:
    """Raise `bad_parameter` unless `value` is positive (or zero, when allowed)."""
    if value < 0 or (value == 0 and not allow_zero):
        raise bad_parameter(name, f"must be {'0 or more' if allow_zero else 'positive'}, got {value}")


def error_reason(err: BaseException, file: object = None) -> str:
    """The first line of a library's error in words: without `file` (a path or file object it names) and without
    any object's repr (`<_io.BytesIO object at 0x…>`); the error's type name when nothing is left."""
    text = (str(err).strip().splitlines() or [""])[0]
    if file is not None:
        text = text.replace(f"'{file}'", "").replace(str(file), "")
    return _OBJECT_REPR.sub("", text).strip(" :") or type(err).__name__
