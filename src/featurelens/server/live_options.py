"""The live socket's option messages, checked by a schema: a JSON object of known keys with values of the right type.

A mistake (`{"top": 0}`, `{"layer": 5}`, an unknown key, no JSON at all) is one line for the page to show; the
connection and its model thread carry on with the options they had.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from featurelens.errors import FeaturelensError

MAX_TOP = 20  # top classes a frame may list
MAX_MESSAGE = 4096  # characters in one options message


class LiveOptionsMessage(BaseModel):
    """What the page may change; every key optional (absent keys keep their value)."""

    model_config = ConfigDict(extra="forbid")

    layer: StrictStr | None = Field(None, max_length=200)
    unit: StrictInt | None = Field(None, ge=0)
    method: Literal["guided", "deconvnet", "gradient"] | None = None
    classes: StrictBool | None = None
    why: StrictBool | None = None
    top: StrictInt | None = Field(None, ge=1, le=MAX_TOP)


def parse_options(text: str) -> dict:
    """The options a message sets (only the keys it names; `unit: null` clears the unit), or a one-line error."""
    if len(text) > MAX_MESSAGE:
        raise FeaturelensError(f"the options message is longer than {MAX_MESSAGE} characters")
    try:
        asked = json.loads(text)
    except ValueError:
        raise FeaturelensError("the options message is not JSON: send an object such as {\"layer\": \"conv3\", \"unit\": 5}") from None
    if not isinstance(asked, dict):
        raise FeaturelensError("the options message must be a JSON object such as {\"layer\": \"conv3\", \"unit\": 5}")
    try:
        checked = LiveOptionsMessage.model_validate(asked)
    except ValidationError as err:
        raise FeaturelensError(_one_line(err)) from None
    named = checked.model_dump(include=set(asked))
    return {key: value for key, value in named.items() if value is not None or key == "unit"}


def _one_line(err: ValidationError) -> str:
    """The first mistake in words: `option 'top' = 0: Input should be greater than or equal to 1`."""
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "?"
    if first["type"] == "extra_forbidden":
        known = ", ".join(LiveOptionsMessage.model_fields)
        return f"unknown live option {key!r}: the options are {known}"
    shown = json.dumps(first.get("input"))[:60]
    return f"live option {key!r} = {shown}: {first['msg']}"
