"""Results that never mix: a command's run replaces that command's previous result in a folder as a whole.

Each run records the files it wrote in the folder's `.featurelens-<COMMAND>.json`; the next run of the same
command into the folder removes exactly those files first (and the folders they leave empty). Files the
command did not write (a user's notes, another command's result) are left alone. A folder written before
these records existed is cleaned from the command's own index file (e.g. render.json lists its PNGs).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from featurelens.errors import FeaturelensError

REPLACES = "a rerun into the same folder replaces this command's previous result there as a whole (files it did not write are kept)"


def manifest_path(folder: Path, command: str) -> Path:
    return folder / f".featurelens-{command}.json"


def write_text_atomic(path: Path, text: str) -> Path:
    """Write `text` to a temporary file beside `path`, then rename it over `path`: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _files(folder: Path) -> dict[Path, tuple[int, int, int]]:
    """Every file under `folder` with what tells a rewrite apart (inode, size, modification time)."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root, name)
            stat = path.stat()
            found[path] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return found


def _previous(folder: Path, command: str, legacy: Callable[[Path], list[Path]] | None) -> list[Path]:
    manifest = manifest_path(folder, command)
    if manifest.exists():
        try:
            names = json.loads(manifest.read_text())["files"]
        except (ValueError, KeyError, TypeError):
            names = []
        return [folder / name for name in names]
    return legacy(folder) if legacy else []


def _remove(folder: Path, paths: list[Path]) -> None:
    """Remove `paths` (only those inside `folder`), then the folders under `folder` they leave empty."""
    root = folder.resolve()
    parents = set()
    for path in paths:
        if root not in path.resolve().parents or not path.is_file():
            continue  # a stale or tampered record never reaches outside the folder
        path.unlink()
        parents.add(path.parent)
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        while parent.resolve() != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


@contextmanager
def replacing(folder: Path, command: str, legacy: Callable[[Path], list[Path]] | None = None) -> Iterator[Path]:
    """Remove `command`'s previous result from `folder`, let the caller write, then record what it wrote.

    `legacy(folder)`: the command's files in a folder that has no record yet (written by an older version)."""
    if folder.exists() and not folder.is_dir():
        raise FeaturelensError(f"{str(folder)!r} is a file: {{parameter}} needs a folder", parameter="out")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = manifest_path(folder, command)
    _remove(folder, _previous(folder, command, legacy))
    manifest.unlink(missing_ok=True)
    before = _files(folder)
    try:
        yield folder
    finally:  # an interrupted write is recorded too, so the next run removes its half
        after = _files(folder)
        written = sorted(p.relative_to(folder).as_posix() for p, stat in after.items() if before.get(p) != stat and p != manifest)
        write_text_atomic(manifest, json.dumps({"command": command, "files": written}, indent=1))


def listed_in(index: str, keys: tuple[str, ...], extra: tuple[str, ...] = ()) -> Callable[[Path], list[Path]]:
    """A `legacy` finder: the files named under `keys` of each entry of the JSON index's first list, the index, and `extra`."""

    def find(folder: Path) -> list[Path]:
        path = folder / index
        if not path.exists():
            return []
        try:
            document = json.loads(path.read_text())
        except ValueError:
            return []
        entries = next((value for value in document.values() if isinstance(value, list)), []) if isinstance(document, dict) else []
        names = [entry[key] for entry in entries if isinstance(entry, dict) for key in keys if isinstance(entry.get(key), str)]
        return [folder / name for name in (*names, index, *extra)]

    return find
