"""Issue 14 item 8: `visualize()` in a notebook never hands a teammate's HTML to the notebook to run.

IPython is replaced by a recorder (the notebook frontend is what would run a
`<script>`): what `ArtifactVersion.visualize()` displays is checked directly.
"""
from __future__ import annotations

import html
import sys
import types

import numpy as np
import pytest

from recipes import VISUALS


@pytest.fixture
def notebook(monkeypatch):
    """A fake IPython kernel: `display` records what it was given."""
    shown = []

    class Display:
        def __init__(self, data=None, filename=None, **_):
            self.data, self.filename = data, filename

    display = types.ModuleType("IPython.display")
    for name in ("HTML", "Markdown", "Image"):
        setattr(display, name, type(name, (Display,), {}))
    display.display = shown.append
    ipython = types.ModuleType("IPython")
    ipython.display = display
    ipython.get_ipython = lambda: types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_untrusted_html_svg_and_markdown_are_shown_sandboxed_or_as_text(world, notebook, monkeypatch):
    monkeypatch.chdir(world.victim.root)
    from artrepo import Client, save_artifact

    Client().get_artifact_version("report").visualize()
    assert [type(obj).__name__ for obj in notebook] == ["HTML", "HTML", "HTML"]
    page, svg, notes = (obj.data for obj in notebook)
    for shown, name in ((page, "visualizations/page.html"), (svg, "visualizations/plot.svg")):
        assert shown.startswith('<iframe sandbox="" srcdoc="') and "<script" not in shown, shown
        assert html.escape(VISUALS[name][1].decode(), quote=True) in shown
    assert notes.startswith("<pre>") and "<script" not in notes
    notebook.clear()
    save_artifact(np.eye(3), "written-here")  # trusted: its scripts may run, sandboxed all the same
    Client().get_artifact_version("written-here").visualize()
    assert notebook and all('sandbox="allow-scripts"' in obj.data and "allow-same-origin" not in obj.data
                            for obj in notebook), [obj.data[:60] for obj in notebook]
