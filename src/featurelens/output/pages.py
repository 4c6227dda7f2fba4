"""The one Jinja environment every page of the package is written with: autoescaping on, so a data file's name,
an atlas record or a class name is always text, never markup; and the one check that a path from a record may
be a link.

Templates are named by their technique's folder, then the file: "atlas/unit.html.j2", "server/live.html.j2".
"""

from __future__ import annotations

import math
import re
from functools import cache

from jinja2 import Environment, PackageLoader, PrefixLoader, Template

# technique → its templates folder inside the package
TEMPLATE_FOLDERS = {
    "activation_map": "activation_map/templates",
    "atlas": "atlas/templates",
    "concepts": "concepts/templates",
    "dataset_examples": "dataset_examples/templates",
    "evolution": "evolution/templates",
    "overviews": "overviews/templates",
    "server": "server/templates",
}
_SCHEME = re.compile(r"^[^/]*:")  # "javascript:…", "data:…", "C:…": a colon before any slash


@cache
def page_environment() -> Environment:
    """The shared environment: every `{{ value }}` is escaped (select_autoescape would skip the `.j2` names)."""
    loader = PrefixLoader({name: PackageLoader("featurelens", folder) for name, folder in TEMPLATE_FOLDERS.items()})
    env = Environment(loader=loader, autoescape=True)
    env.filters["link"] = link
    env.filters["figure"] = figure
    return env


def page_template(name: str) -> Template:
    """A template of the package by its prefixed name, e.g. "dataset_examples/layer.html.j2"."""
    return page_environment().get_template(name)


def relative_url(path: object) -> str | None:
    """`path` when it is a relative path inside the folder the page sits in (no scheme, no leading slash or
    backslash, no ".." segment), else None: a record's path must never become a `javascript:` or foreign link."""
    if not isinstance(path, str) or not path or path.startswith(("/", "\\")) or _SCHEME.match(path):
        return None
    if any(part == ".." for part in re.split(r"[/\\]", path)) or any(ord(ch) < 32 for ch in path):
        return None
    return path


def link(path: object, root: str = "") -> str:
    """Template filter: `root` + `path` for a relative path (`relative_url`), else "" (an empty src or href)."""
    safe = relative_url(path)
    return root + safe if safe is not None else ""


def figure(value: object, spec: str = ".3g") -> str:
    """Template filter: a number as `format(value, spec)`; anything else (a string in a record, NaN) as "–"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return format(value, spec)
