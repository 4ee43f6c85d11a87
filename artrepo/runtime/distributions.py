"""Which installed distributions the process has loaded, with their versions (provenance's `packages`).

Read from the `.dist-info` folders of the site-packages folders on `sys.path`,
never `pip freeze`: a distribution counts when one of its top-level modules
is in `sys.modules`.

    loaded_distributions()   # {"numpy": "2.1.3", ...}
"""
from __future__ import annotations

import functools
import os
import sys

_INDEXES: dict[str, "_SitePackages"] = {}  # per process: a site-packages folder's distributions


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


class _SitePackages:
    """The `.dist-info` folders of one site-packages folder: which distribution holds a top-level module."""

    def __init__(self, root: str):
        self.root = root
        self.folders: dict[str, str] = {}  # normalized distribution name -> .dist-info folder
        try:
            entries = os.listdir(root)
        except OSError:
            entries = []
        for entry in entries:
            if entry.endswith(".dist-info"):
                self.folders.setdefault(_normalized(entry[:-len(".dist-info")].split("-")[0]), entry)
        self._tops: dict[str, str] | None = None
        self._named: dict[str, tuple[str, str] | None] = {}

    def distribution(self, top: str) -> tuple[str, str] | None:
        """(name, version) of the distribution holding top-level module `top`, or None."""
        folder = self.folders.get(_normalized(top)) or self._top_levels().get(top)
        if folder is None:
            return None
        if folder not in self._named:
            self._named[folder] = _name_and_version(os.path.join(self.root, folder, "METADATA"))
        return self._named[folder]

    def _top_levels(self) -> dict[str, str]:
        """Top-level module -> .dist-info folder, from `top_level.txt` or else `RECORD` (read once)."""
        if self._tops is None:
            self._tops = {}
            for folder in self.folders.values():
                for top in _declared_tops(os.path.join(self.root, folder)):
                    self._tops.setdefault(top, folder)
        return self._tops


def _declared_tops(folder: str) -> set[str]:
    try:
        with open(os.path.join(folder, "top_level.txt"), encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}
    except OSError:
        pass
    tops = set()
    try:
        with open(os.path.join(folder, "RECORD"), encoding="utf-8") as f:
            for line in f:
                first = line.split(",", 1)[0].split("/", 1)[0]
                if first and not first.endswith((".dist-info", ".data", ".pth")) and first not in ("..", "__pycache__"):
                    tops.add(first[:-3] if first.endswith(".py") else first)
    except OSError:
        pass
    return tops


def _name_and_version(path: str) -> tuple[str, str] | None:
    fields = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the headers end at the first blank line
                key, sep, value = line.partition(":")
                if sep and key in ("Name", "Version"):
                    fields[key] = value.strip()
                    if len(fields) == 2:
                        break
    except OSError:
        return None
    return (fields["Name"], fields["Version"]) if len(fields) == 2 else None


def _site_roots() -> list[str]:
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]


def loaded_distributions() -> dict[str, str]:
    """{distribution: version} of every installed distribution whose top-level module is loaded.

    Asked at every save: the answer is kept while the modules loaded and the search path stay the same
    (a module imported since adds a last key to sys.modules; one removed changes its length).
    """
    modules = sys.modules
    return dict(_loaded_distributions((len(modules), next(reversed(modules), None), tuple(sys.path))))


@functools.lru_cache(maxsize=1)
def _loaded_distributions(_state: tuple) -> dict[str, str]:
    roots = _site_roots()
    out = {}
    for name, module in list(sys.modules.items()):
        if "." in name or module is None:
            continue
        path = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", None) or ()), None)
        if not path:
            continue
        root = next((r for r in roots if path.startswith(r + os.sep)), None)
        if root is None:
            continue
        index = _INDEXES.get(root) or _INDEXES.setdefault(root, _SitePackages(root))
        found = index.distribution(name)
        if found is not None:
            out[found[0]] = found[1]
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))
