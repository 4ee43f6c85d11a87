"""Where a user's class lives, as an import path another process can import (ZenML's source utils).

A class defined in the run script has `__module__ == "__main__"`, which names
nothing in another process, a notebook or a clone. As ZenML's
`source_utils.resolve` does, artrepo records the script's path relative to
the source root instead (`pipelines/run.py` -> `pipelines.run`), and when
loading imports it from there with the source root first on `sys.path`: the
script's top-level code runs, its `if __name__ == "__main__":` block does not,
as in ZenML. A top-level module imported from a sub-folder of the source root
(`artrepo run pipelines/run.py` imports `run` with `pipelines/` on the path)
is recorded the same way, so both ways of running a script record one path.

The source root is the folder holding `.artrepo/` at or above the working
directory (ZenML: the `zenml init` folder), else the folder of the main script.
Whether an import may happen at all is the caller's decision (trust rules,
docs/format.md §11); nothing here imports unless asked to.

    import_path(MyMaterializer)  # 'pipelines.run.MyMaterializer'
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
from pathlib import Path


def source_root() -> Path | None:
    """The repository's folder, else the main script's folder, else None (interactive)."""
    from artrepo.errors import NotARepositoryError
    from artrepo.repository import find_root

    try:
        return find_root()
    except NotARepositoryError:
        return _main_folder()


def _main_folder() -> Path | None:
    file = getattr(sys.modules.get("__main__"), "__file__", None)
    return Path(file).resolve().parent if file else None


def module_path(module_name: str) -> str:
    """The import path to record for the module `module_name` (itself unless it is a script)."""
    if module_name != "__main__" and "." in module_name:
        return module_name
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if not file:  # a notebook or an interactive session: nothing to import it from
        return module_name
    if file.startswith(_installed_folders()):
        return module_name  # the standard library or an installed package: importable by its name
    path = Path(file).resolve()
    for root in (source_root(), _main_folder()):
        if root is None or path.suffix != ".py" or root not in path.parents:
            continue
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and all(p.isidentifier() for p in parts):
            return ".".join(parts)
    return module_name


@functools.cache
def _installed_folders() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple({os.path.join(paths[k], "") for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths})


def import_path(obj) -> str:
    """`module.QualName` of a class or function, with the module as `module_path` records it."""
    return f"{module_path(obj.__module__)}.{obj.__qualname__}"


def find_loaded(dotted: str):
    """The object at `dotted` if its module is already imported (the main script included), else None."""
    main_as = module_path("__main__") if "__main__" in sys.modules else None
    for module_name, attrs in _splits(dotted):
        module = sys.modules["__main__"] if module_name == main_as else sys.modules.get(module_name)
        if module is not None:
            return _attribute(module, attrs)
    return None


def import_object(dotted: str):
    """Import the object at `dotted` (module path + qualified name), the source root first on sys.path.

    Raises ImportError (ModuleNotFoundError) or AttributeError when it cannot.
    """
    found = find_loaded(dotted)
    if found is not None:
        return found
    with _on_path(source_root()):
        error: Exception | None = None
        for module_name, attrs in _splits(dotted):
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
                    raise  # the module exists but imports something missing
                error = exc
                continue
            obj = _attribute(module, attrs)
            if obj is None:
                raise AttributeError(f"module {module_name!r} has no attribute {'.'.join(attrs)!r}")
            return obj
    raise error or ImportError(f"cannot import {dotted!r}")


def _splits(dotted: str):
    """(module, [attributes]) candidates, longest module first: `a.b.C.D` -> (`a.b.C`, [D]), (`a.b`, [C, D])…"""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        yield ".".join(parts[:i]), parts[i:]


def _attribute(module, attrs: list[str]):
    obj = module
    for name in attrs:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


@contextlib.contextmanager
def _on_path(folder: Path | None):
    if folder is None or str(folder) in sys.path:
        yield
        return
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
