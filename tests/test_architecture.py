"""The package's shape: no import cycle between its modules (imports under TYPE_CHECKING included), no logic written twice, no verb
shadowing a package, no audio_* twin of a module, one result type per verb."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections import defaultdict
from pathlib import Path

import torch

import featurelens

SOURCE = Path(featurelens.__file__).resolve().parent
ROOT = "featurelens"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST) -> list[str]:
    """Every featurelens module the file imports, wherever the import stands: at the top, inside a function (a lazy
    import) or under `if TYPE_CHECKING:` (an annotation is a dependency too, so it counts toward a cycle)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return [name for name in found if name == ROOT or name.startswith(ROOT + ".")]


def import_graph() -> dict[str, set[str]]:
    """module → modules whose import it triggers (the module and the packages above it, the root excepted;
    a package a module lives in is already being imported when the module runs, so it is no edge)."""
    files = {module_name(path): path for path in SOURCE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in files.items():
        for imported in imported_modules(ast.parse(path.read_text())):
            parts = imported.split(".")
            for depth in range(2, len(parts) + 1):  # importing a.b.c runs a.b's __init__ too
                target = ".".join(parts[:depth])
                if target in files and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            connect(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    """No cycle, imports under TYPE_CHECKING and inside functions included (a writer reads its result by a Protocol)."""
    graph = import_graph()
    assert sum(len(targets) for targets in graph.values()) > 100  # the walk really sees the imports
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_under_type_checking_and_in_functions_count() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from featurelens.a import A\ndef f():\n    import featurelens.b\n"
    assert sorted(imported_modules(ast.parse(source))) == ["featurelens.a", "featurelens.a.A", "featurelens.b"]


WINDOW = 6


def normalised_lines(path: Path) -> list[tuple[int, str]]:
    """Code lines without blanks, comments, imports and docstring-only lines, whitespace collapsed."""
    kept = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = re.sub(r"\s+", " ", line.split("  #")[0]).strip()
        if not text or text.startswith(("#", '"""', "'''", "import ", "from ")) or text in (")", "]", "}", "),", "],", "else:", "try:"):
            continue
        kept.append((number, text))
    return kept


def test_no_logic_of_six_lines_or_more_is_written_twice() -> None:
    seen: dict[tuple[str, ...], tuple[str, int]] = {}
    repeats = []
    for path in sorted(SOURCE.rglob("*.py")):
        lines = normalised_lines(path)
        last_end = {}
        for start in range(len(lines) - WINDOW + 1):
            window = tuple(text for _, text in lines[start:start + WINDOW])
            where = (str(path.relative_to(SOURCE)), lines[start][0])
            if window in seen and not (seen[window][0] == where[0] and last_end.get(window, -1) >= start):
                repeats.append((seen[window], where, window[0]))
            else:
                seen.setdefault(window, where)
            last_end[window] = start + WINDOW
    assert repeats == []


def test_each_verb_is_a_function_and_each_capability_a_package() -> None:
    verbs = {"render": "rendering", "examples": "dataset_examples", "project": "projection", "dream": "deepdream", "overview": "overviews"}
    for verb, package in verbs.items():
        assert callable(getattr(featurelens, verb)), verb
        assert importlib.import_module(f"featurelens.{package}").__file__, package
    assert callable(featurelens.invert.train) and callable(featurelens.invert.decode)
    deep = importlib.import_module("featurelens.deepdream.deepdream")  # `import a.b.c as x` must not hit a function
    assert deep.dream is featurelens.dream


def test_no_module_named_audio_outside_the_audio_package() -> None:
    """A modality is an object, not a second track: what differs for sound belongs in the modality, not in `audio_X.py`
    beside `X.py` (the audio model's own package, featurelens/audio, excepted)."""
    named = {path.relative_to(SOURCE).as_posix() for path in SOURCE.rglob("audio_*.py")}
    outside = {name for name in named if not name.startswith("audio/")}
    assert not outside, sorted(outside)


VERBS_WITH_TWO_RESULTS: set[str] = set()  # a verb returning a result per modality: this set only shrinks


def test_each_public_verb_returns_one_result_type() -> None:
    """Every verb of `featurelens.__all__` is annotated to return one type, not a union of a result per modality."""
    returns = {name: inspect.signature(getattr(featurelens, name)).return_annotation
               for name in featurelens.__all__ if inspect.isfunction(getattr(featurelens, name))}
    assert {"render", "examples", "project", "dream", "overview", "atlas"} <= returns.keys()
    assert all(annotation is not inspect.Signature.empty for annotation in returns.values())
    unions = {name for name, annotation in returns.items() if "|" in str(annotation) or "Union" in str(annotation)}
    assert unions == VERBS_WITH_TWO_RESULTS, unions


def test_a_model_carries_its_modality() -> None:
    """Techniques ask `LoadedModel.modality`; an image model's sizes, labels and dry runs come from it."""
    from featurelens.models.modality import ImageModality

    model = featurelens.LoadedModel(torch.nn.Conv2d(3, 2, 3), "conv", 8)
    assert model.modality == ImageModality() and model.modality.sound is None and model.audio is None
    assert model.input_pair() == (8, 8) and model.size_label(5) == "5×5"
    assert model.dry_run_input(4, 6).shape == (1, 3, 4, 6)


def audio_branches(tree: ast.AST) -> list[int]:
    """Lines where a model's `.audio` is asked whether it is there: `x.audio is None`, `if x.audio`, `… if x.audio else …`,
    `not x.audio`, `x.audio and …` (using it, `x.audio.sample_rate`, is no branch)."""
    tests: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            tests.append(node.test)
        elif isinstance(node, ast.BoolOp):
            tests.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            tests.append(node.operand)
        elif isinstance(node, ast.Compare) and any(isinstance(c, ast.Constant) and c.value is None for c in node.comparators):
            tests.append(node.left)
    return sorted(test.lineno for test in tests if isinstance(test, ast.Attribute) and test.attr == "audio")


def test_audio_branches_are_found() -> None:
    source = ("if model.audio is None:\n    pass\nx = 1 if m.audio else 2\ny = not s.audio\nz = model.audio.sample_rate\n"
              "w = a.audio and b\n")
    assert audio_branches(ast.parse(source)) == [1, 3, 4, 6]


def test_no_technique_asks_whether_its_model_is_an_audio_model() -> None:
    """A modality is an object: the atlas, the server, the live view and render ask `model.modality`, never whether
    `model.audio` is there (the audio model's own package excepted)."""
    found = {path.relative_to(SOURCE).as_posix() for path in SOURCE.rglob("*.py") if audio_branches(ast.parse(path.read_text()))}
    outside = {name for name in found if not name.startswith("audio/")}
    assert not outside, sorted(outside)
