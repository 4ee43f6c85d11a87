"""The code hash of a step: its source and the source of the user's own code it calls.

Names a function's code objects use (globals, attributes of user modules,
closure variables) are resolved; functions and classes defined in the
user's modules (not the standard library, site-packages or artrepo) are
hashed too, transitively, as are simple module-level constants they read.
Decorator lines are stripped, so `@step(enable_cache=...)` changes nothing.
"""
from __future__ import annotations

import functools
import os
import re
import sys
import types

from artrepo.runtime import introspect
from artrepo.storage.hashing import digest

_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None))


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    # sysconfig.get_paths()'s stdlib, platstdlib, purelib and platlib (posix scheme), without
    # the 2-3 ms that importing sysconfig and expanding its schemes cost every cached run
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    roots = {os.path.dirname(os.__file__), os.path.join(sys.exec_prefix, sys.platlibdir, version)}
    roots.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    import artrepo

    roots.add(artrepo.__path__[0])
    return tuple(sorted(roots))


@functools.lru_cache(maxsize=4096)
def _is_user_module(name: str) -> bool:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return False
    return not any(path.startswith(root) for root in _library_roots())


def _user_object(obj) -> bool:
    target = introspect.unwrap(getattr(obj, "entrypoint", obj)) if not isinstance(obj, type) else obj
    module = getattr(target, "__module__", None)
    return (isinstance(target, (types.FunctionType, type)) and module is not None and _is_user_module(module))


def fast_getsource(func) -> str | None:
    """`inspect.getsource(func)` for a plain function, without tokenize; None when unsure.

    The first tokenize of a process compiles a large regex (~8 ms, most of a
    cached run). The block starts where inspect starts it and ends at the last
    line any instruction spans, extended (as inspect does) over later lines
    indented deeper than the def, code or comments, up to the next code line
    at the def's indentation; a block that does not parse is left to inspect.
    tests/runtime/test_codehash.py compares both on many functions.
    """
    code = getattr(func, "__code__", None)
    if (not isinstance(func, types.FunctionType) or code is None or code.co_name == "<lambda>"
            or hasattr(func, "__wrapped__")):
        return None
    found = introspect.source_lines(func)
    if found is None:
        return None
    lines, start = found
    end = max([code.co_firstlineno] + [p[1] for c in _code_objects(func) for p in c.co_positions() if p[1]])
    indent = len(lines[start]) - len(lines[start].lstrip())
    for scan in range(end, len(lines)):
        text = lines[scan].strip()
        if not text:
            continue
        if len(lines[scan]) - len(lines[scan].lstrip()) <= indent:
            if not text.startswith("#"):
                break
            continue
        end = scan + 1
    src = "".join(lines[start:end])
    try:
        compile(dedent(src), "<source>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return src


_BLANK_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)


def dedent(src: str) -> str:
    """`textwrap.dedent(src)`; a block starting at column 0 (a module-level def) skips importing
    textwrap (a millisecond): there it only empties the lines of nothing but blanks.
    """
    if src and not src[0].isspace():
        return _BLANK_LINE.sub("", src)
    import textwrap

    return textwrap.dedent(src)


def source_text(obj) -> str:
    """Source of a function or class without its decorator lines."""
    try:
        src = fast_getsource(obj)
        if src is None:
            import inspect

            src = inspect.getsource(obj)
        src = dedent(src)
    except (OSError, TypeError):  # no source (REPL, exec): fall back to the bytecode
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) + repr(code.co_consts) if code else repr(obj)
    lines = src.splitlines()
    depth = 0
    for i, line in enumerate(lines):  # drop `@decorator(...)` lines, multi-line ones included
        stripped = line.strip()
        if depth == 0 and not stripped.startswith("@"):
            return "\n".join(lines[i:])
        depth += stripped.count("(") - stripped.count(")")
    return src


def _code_objects(obj):
    if isinstance(obj, type):
        for value in vars(obj).values():
            func = getattr(value, "__func__", value)
            if isinstance(func, types.FunctionType):
                yield from _code_objects(func)
        return
    stack = [obj.__code__]
    while stack:
        code = stack.pop()
        yield code
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def _referenced(obj):
    """User objects and constants `obj` refers to: (label, value) pairs."""
    if isinstance(obj, type):
        namespace = vars(sys.modules[obj.__module__]) if obj.__module__ in sys.modules else {}
    else:
        namespace = obj.__globals__
    closure = {}
    if not isinstance(obj, type) and obj.__closure__:
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__):
            try:
                closure[name] = cell.cell_contents
            except ValueError:
                continue
    for code in _code_objects(obj):
        names = code.co_names
        for name in names + code.co_freevars:
            value = closure[name] if name in closure else namespace.get(name)
            if value is None and name not in namespace:
                continue
            if isinstance(value, types.ModuleType) and _is_user_module(value.__name__):
                for attr in names:
                    member = getattr(value, attr, None)
                    if member is not None and _user_object(member):
                        yield f"{value.__name__}.{attr}", member
            elif _user_object(value):
                yield name, value
            elif isinstance(value, _CONSTANT_TYPES) or (isinstance(value, tuple) and len(value) < 64
                                                          and all(isinstance(v, _CONSTANT_TYPES) for v in value)):
                yield name, ("constant", repr(value))


def code_parts(func) -> list[tuple[str, str]]:
    """(label, text) of everything the code hash covers, in its order: the step first, then the
    user functions and classes it reaches (text: their source) and the constants they read (text:
    `=` and the constant's repr), sorted as the hash sorts them.
    """
    seen: dict[int, str] = {}
    parts: list[tuple[str, str]] = []
    stack = [("<step>", func)]
    while stack:
        label, obj = stack.pop()
        if isinstance(obj, tuple):  # a constant
            parts.append((label, f"={obj[1]}"))
            continue
        target = obj if isinstance(obj, type) else introspect.unwrap(getattr(obj, "entrypoint", obj))
        if id(target) in seen:
            continue
        seen[id(target)] = label
        parts.append((label, f":\n{source_text(target)}"))
        stack.extend(_referenced(target))
    return [parts[0], *sorted(set(parts[1:]), key=lambda p: p[0] + p[1])]


def hash_parts(parts: list[tuple[str, str]]) -> str:
    """Hex BLAKE3 of `code_parts`: the `code` component of a step's cache key."""
    return digest("\n\x00".join(label + text for label, text in parts).encode()).hex()


def code_hash(func) -> str:
    """Hex BLAKE3 of the step's source and of every user function or class it reaches."""
    return hash_parts(code_parts(func))


def code_text(parts: list[tuple[str, str]]) -> str:
    """The code a step's cache key covers, as one text: the step's source, then each helper's
    source under a `# ---- label` line, then the constants it reads (`NAME = value`).
    """
    head, rest = parts[0], parts[1:]
    out = [head[1][2:].rstrip("\n")]
    for label, text in rest:
        if text.startswith(":\n"):
            out.append(f"\n\n# ---- {label}\n{text[2:].rstrip()}")
    constants = [f"{label} {text[0]} {text[1:]}" for label, text in rest if text.startswith("=")]
    if constants:
        out.append("\n\n# ---- constants it reads\n" + "\n".join(constants))
    return "".join(out) + "\n"
