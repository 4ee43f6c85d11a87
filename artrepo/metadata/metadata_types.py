"""The values metadata may hold: JSON-like (str, int, float, bool, None, lists and dicts of them).

ZenML's `MetadataType` also lists tuples and sets and its `Uri`/`Path`/`DType`/
`StorageSize` string and int subclasses: artrepo stores a tuple as a list and
those subclasses as their plain value, and refuses a set (no stable order).

    def extract_metadata(self, data) -> Dict[str, MetadataType]: ...
"""
from __future__ import annotations

from typing import Any, Dict, List, Union

MetadataType = Union[str, int, float, bool, None, Dict[str, Any], List[Any]]

__all__ = ["MetadataType"]
