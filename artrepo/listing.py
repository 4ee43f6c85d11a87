"""ZenML's shapes for listings: a `Page` of results, the list of versions of a step input or output, filters.

    page = Client().list_artifact_versions(name="iris", size=10)
    page.total, page.total_pages, [v.version for v in page]
"""
from __future__ import annotations

import operator

from artrepo.errors import UserError

OPERATORS = {"equals": operator.eq, "contains": lambda v, q: q in v, "startswith": str.startswith,
             "endswith": str.endswith}


def matches(value: str, query) -> bool:
    """ZenML's filter value: `text` (equal) or `OPERATOR:text` (equals, contains, startswith, endswith)."""
    if query is None:
        return True
    query = str(getattr(query, "value", query))
    op, sep, operand = query.partition(":")
    if sep and op in OPERATORS:
        return OPERATORS[op](value, operand)
    return value == query


def page_count(total: int, size: int) -> int:
    """Pages of `size` that `total` items fill (one when there are none)."""
    return max(1, -(-total // size))


class Page:
    """One page of a listing: `.items`, `.index` (from 1), `.max_size`, `.total` (all matches), `.total_pages`,
    `.size` (items on this page); iterable and indexable like the list of its items."""

    def __init__(self, items: list, index: int, max_size: int, total: int):
        self.items, self.index, self.max_size, self.total = items, index, max_size, total

    @classmethod
    def of(cls, everything: list, page: int = 1, size: int | None = None) -> "Page":
        """Page `page` of `everything` in pages of `size` (None: one page holding everything)."""
        if page < 1 or (size is not None and size < 1):
            raise UserError(f"page and size start at 1 (got page={page}, size={size})")
        if size is None:
            return cls(list(everything) if page == 1 else [], page, max(len(everything), 1), len(everything))
        return cls(list(everything[(page - 1) * size:page * size]), page, size, len(everything))

    size = property(lambda self: len(self.items))
    total_pages = property(lambda self: page_count(self.total, self.max_size))

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def __eq__(self, other) -> bool:
        return list(self.items) == list(other) if isinstance(other, (list, Page)) else NotImplemented

    def __repr__(self) -> str:
        return f"Page({self.index}/{self.total_pages}, {self.size} of {self.total} items: {self.items!r})"


class VersionList(list):
    """The versions of one step input or output: a list, as ZenML gives them (`outputs["model"][0]`).

    A list of one version also answers as that version (`outputs["model"].load()`, `.id`, `== version`),
    as artrepo's API did before ZenML's shape was adopted.
    """

    def _only(self):
        if len(self) != 1:
            raise AttributeError(f"{len(self)} versions: pick one by index")
        return self[0]

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._only(), name)

    def __eq__(self, other) -> bool:
        if isinstance(other, list):
            return list.__eq__(self, other)
        return len(self) == 1 and self[0] == other

    __hash__ = None


class StepConfig:
    """A step run's configuration as ZenML shows it: `.name`, `.parameters`, `.extra`."""

    def __init__(self, name: str, parameters: dict, extra: dict | None = None, enable_cache: bool | None = None):
        self.name, self.parameters, self.extra, self.enable_cache = name, dict(parameters), extra or {}, enable_cache

    def __repr__(self) -> str:
        return f"StepConfig({self.name}, parameters={self.parameters!r})"
