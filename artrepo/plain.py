"""Value objects defined without `dataclasses`: `Plain` (mutable) and `Frozen`.

A fully cached run is one short process, measured against `import artrepo`
(issue 3). Importing `dataclasses` imports `inspect` (with `ast`, `dis`,
`tokenize`): about 14 ms of a process's life, counting the interpreter's
teardown, and each dataclass costs another 0.4-0.7 ms to define (its
methods are generated with exec). So every class defined on that path
derives from these: the records (frozen, slotted, typed, built with
keywords, as STYLE 3 asks of a record), the pipeline graph, plan and options,
parsed references and version handles.
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

    def replace(self, **changes):
        """A copy with `changes` applied, as `dataclasses.replace`."""
        unknown = changes.keys() - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return _restore(type(self), tuple(changes[n] if n in changes else getattr(self, n) for n in self.__slots__))

    def __reduce__(self):  # copy and pickle
        return _restore, (type(self), self._values())


def _restore(cls, values: tuple):
    obj = cls.__new__(cls)
    for name, value in zip(cls.__slots__, values):
        object.__setattr__(obj, name, value)
    return obj
