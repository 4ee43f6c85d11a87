"""What `inspect` answers about a plain function, read from the function itself.

`inspect` (with `ast`, `dis`, `tokenize` and `linecache`) costs about 10 ms
of a process's life, teardown included, and a fully cached run is measured
against `import artrepo` (issue 3). A plain function (a `def`, neither
wrapped nor given a `__signature__`) is answered here; anything else, and
any call whose answer is an error, goes to `inspect`, imported then.
tests/runtime/test_introspect.py holds both to the same answers.
"""
from __future__ import annotations

import os
import types

EMPTY = object()  # no default, no annotation: `inspect.Parameter.empty`
_CO_VARARGS, _CO_VARKEYWORDS = 0x04, 0x08
_SIMPLE = ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")


def _plain(func) -> bool:
    return type(func) is types.FunctionType and not hasattr(func, "__wrapped__") \
        and not hasattr(func, "__signature__")


def unwrap(func):
    """`inspect.unwrap`: the function under `functools.wraps` layers."""
    if not hasattr(func, "__wrapped__"):
        return func
    import inspect

    return inspect.unwrap(func)


def parameters(func) -> list[tuple[str, str, object]]:
    """(name, kind, default or EMPTY) per parameter, in order, as `inspect.signature(func)` gives them.

    `kind` is the name of an `inspect.Parameter` kind, e.g. "KEYWORD_ONLY".
    """
    if not _plain(func):
        import inspect

        return [(p.name, p.kind.name, EMPTY if p.default is p.empty else p.default)
                for p in inspect.signature(func).parameters.values()]
    code = func.__code__
    names, npos, nkw = code.co_varnames, code.co_argcount, code.co_kwonlyargcount
    defaults, kwdefaults = func.__defaults__ or (), func.__kwdefaults__ or {}
    first_default = npos - len(defaults)
    out = [(names[i], "POSITIONAL_ONLY" if i < code.co_posonlyargcount else "POSITIONAL_OR_KEYWORD",
            defaults[i - first_default] if i >= first_default else EMPTY) for i in range(npos)]
    extra = npos + nkw  # co_varnames: positional, keyword-only, then *args and **kwargs
    if code.co_flags & _CO_VARARGS:
        out.append((names[extra], "VAR_POSITIONAL", EMPTY))
        extra += 1
    out += [(names[i], "KEYWORD_ONLY", kwdefaults.get(names[i], EMPTY)) for i in range(npos, npos + nkw)]
    if code.co_flags & _CO_VARKEYWORDS:
        out.append((names[extra], "VAR_KEYWORD", EMPTY))
    return out


def bind(func, args: tuple, kwargs: dict) -> tuple[tuple, dict, dict]:
    """(args, kwargs, arguments) for calling `func`, defaults applied, as
    `inspect.Signature.bind` then `apply_defaults` give them; the same TypeError when they do not bind.
    """
    params = parameters(func)
    if all(kind in _SIMPLE for _, kind, _ in params):
        positional = [name for name, kind, _ in params if kind == "POSITIONAL_OR_KEYWORD"]
        given = dict(zip(positional, args))
        known = {name for name, _, _ in params}
        if len(args) <= len(positional) and all(k in known and k not in given for k in kwargs):
            given.update(kwargs)
            if all(name in given or default is not EMPTY for name, _, default in params):
                arguments = {name: given[name] if name in given else default for name, _, default in params}
                return (), arguments, arguments
    import inspect

    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.args, bound.kwargs, dict(bound.arguments)


def source_lines(func) -> tuple[list[str], int] | None:
    """`inspect.findsource(func)` for a plain function: its file's lines and the index of its first
    line (its first decorator's); None when unsure (no file, a coding cookie, another first line).
    """
    if not _plain(func):
        return None
    code = func.__code__
    path = code.co_filename
    if not path.endswith(".py") or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf") or b"coding" in b"\n".join(data.split(b"\n", 2)[:2]):
        return None  # a BOM or a PEP 263 cookie: inspect decodes those
    try:
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        return None
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    start = code.co_firstlineno - 1
    if not 0 <= start < len(lines) or not lines[start].lstrip().startswith(("def ", "async ", "@")):
        return None
    return lines, start
