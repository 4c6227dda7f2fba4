"""The shared page environment: it escapes every value, loads every template of the package, and lets only
relative paths and real numbers through its link and figure filters."""

from __future__ import annotations

from importlib import resources

import pytest

from featurelens.output.pages import TEMPLATE_FOLDERS, link, page_environment, page_template, relative_url


def test_values_are_escaped() -> None:
    env = page_environment()
    assert env is page_environment()  # built once
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    assert env.from_string('<a title="{{ x }}">').render(x='"><script>') == '<a title="&#34;&gt;&lt;script&gt;">'
    page = page_template("atlas/_page.html.j2").render(manifest={"model": {"spec": "<b>x</b>"}}, root="")  # a .j2 name
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>" not in page


def test_every_package_template_loads_and_escapes() -> None:
    names = []
    for prefix, folder in TEMPLATE_FOLDERS.items():
        root = resources.files("featurelens").joinpath(folder)
        names += [f"{prefix}/{entry.name}" for entry in root.iterdir() if entry.name.endswith((".j2", ".css"))]
    assert len(names) >= 13 and "server/live.html.j2" in names and "atlas/style.css" in names
    for name in names:
        template = page_template(name)
        assert template.environment is page_environment() and template.environment.autoescape is True, name
    assert page_environment().list_templates() and set(names) <= set(page_environment().list_templates())


@pytest.mark.parametrize("path", ["conv3/renders/0-max.png", "a b/c.png", "x.png"])
def test_relative_paths_are_links(path: str) -> None:
    assert relative_url(path) == path and link(path, "../") == "../" + path


@pytest.mark.parametrize("path", ["javascript:alert(1)", " javascript:alert(1)", "JaVaScRiPt:x", "data:text/html,x", "https://example.com/a.png",
                                  "//example.com/a.png", "/etc/passwd", "\\\\host\\x", "../up.png", "a/../../up.png", "a/\nb", "", None, 3, ["a"]])
def test_other_paths_are_no_links(path) -> None:
    assert relative_url(path) is None and link(path, "../") == ""


def test_figures_are_numbers_or_a_dash() -> None:
    render = page_environment().from_string('{{ x|figure }} {{ x|figure(".2f") }}').render
    assert render(x=0.123456) == "0.123 0.12"
    assert [render(x=x) for x in ("9", "<b>", None, float("nan"), float("inf"), True)] == ["– –"] * 6
