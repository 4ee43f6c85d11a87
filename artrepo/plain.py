"""Value objects defined without `dataclasses`.

A fully cached run is one short process, measured against `import artrepo`
(issue 3), and defining a dataclass costs about 0.4-0.7 ms: its methods are
generated with exec. The classes defined on that path that are not records
(the pipeline graph, plan and options, parsed references, version handles)
derive from these instead. Records stay frozen dataclasses (STYLE 3).
"""
from __future__ import annotations


class Plain:
    """Equality and repr over `__slots__`, in order; a subclass writes its own `__init__`."""

    __slots__ = ()
    __hash__ = None  # mutable

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Frozen(Plain):
    """A `Plain` whose fields are set once, by `_init`, and that hashes by value."""

    __slots__ = ()

    def _init(self, **values) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r} of a {type(self).__name__}")

    __delattr__ = __setattr__

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self):  # copy and pickle: each subclass's __init__ takes its slots in order
        return type(self), self._values()
