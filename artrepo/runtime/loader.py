"""Finding the pipeline named by `artrepo run FILE_OR_MODULE[:PIPELINE]`.

A file is imported under its stem (not as `__main__`, so its `main()` guard
does not fire), with its folder first on `sys.path`; otherwise the target is
imported as a module.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path

from artrepo.errors import ArtrepoError, UserError


def split_target(target: str) -> tuple[str, str | None]:
    m = re.match(r"(.+):([A-Za-z_][A-Za-z0-9_]*)\Z", target)
    return (m.group(1), m.group(2)) if m else (target, None)


def _import_file(path: Path):
    name = path.stem
    if not name.isidentifier():
        name = "artrepo_user_" + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_target(where: str):
    path = Path(where)
    try:
        if path.suffix == ".py" or path.is_file():
            if not path.is_file():
                raise UserError(f"no such file: {where}")
            return _import_file(path.resolve())
        sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(where)
    except ArtrepoError:
        raise
    except Exception as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == where:
            raise UserError(f"no such file or module: {where}") from None
        raise UserError(f"cannot import {where}: {type(exc).__name__}: {exc}") from None


def find_pipeline(target: str):
    """(Pipeline, source) for `FILE_OR_MODULE[:PIPELINE]`; clear errors for none, several or unknown."""
    from artrepo.runtime.decorators import Pipeline

    where, wanted = split_target(target)
    module = import_target(where)
    found: dict[str, Pipeline] = {}
    for attr, value in vars(module).items():
        if isinstance(value, Pipeline) and value not in found.values():
            found[attr] = value
    if wanted is not None:
        for attr, p in found.items():
            if wanted in (attr, p.name):
                return p, f"{where}:{attr}"
        known = ", ".join(sorted(found)) or "none"
        raise UserError(f"{where} has no pipeline {wanted!r} (pipelines: {known})")
    if not found:
        raise UserError(f"{where} defines no @pipeline")
    if len(found) > 1:
        raise UserError(f"{where} defines several pipelines ({', '.join(sorted(found))}): "
                        f"name one as {where}:PIPELINE")
    attr, p = next(iter(found.items()))
    return p, f"{where}:{attr}"
