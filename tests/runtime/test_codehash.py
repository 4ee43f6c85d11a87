"""The tokenize-free source finder gives exactly what inspect.getsource gives, or steps aside."""
from __future__ import annotations

import importlib
import inspect
import sys
import textwrap
import types

import pytest

from artrepo.runtime.codehash import fast_getsource

TRICKY = textwrap.dedent('''
    import functools

    def one_liner(x): return x  # trailing comment


    def trailing_comments(x):
        y = x + 1
        # a comment at body depth belongs to the block
            # deeper too

    # not this one: it is at the def's depth
    def dead_code(x):
        return x
        print("never")


    def col0_string():
        text = """
    inside
    """
        return text


    def nested(x):
        def inner(y):
            return [
                y
                for _ in range(3)
            ]
        class Local:
            attr = 1
        return inner(x), Local

    @functools.lru_cache
    def wrapped(x):
        return x

    def decorated_by(f):
        return f

    @decorated_by
    @decorated_by
    def decorated(
            a,
            b=(1,
               2)):
        """doc"""

    async def coro():
        await coro()

    class Holder:
        def method(self):
            return 1
            # trailing inside the method

        @staticmethod
        def static():
            pass
''')


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    folder = tmp_path_factory.mktemp("src")
    (folder / "tricky_source.py").write_text(TRICKY)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("tricky_source")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("tricky_source", None)


def functions_of(module):
    for value in list(vars(module).values()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            yield value
        elif isinstance(value, type) and value.__module__ == module.__name__:
            yield from (f for f in vars(value).values() if isinstance(f, types.FunctionType))
        elif isinstance(value, staticmethod):
            yield value.__func__


def matching_inspect(funcs) -> int:
    """How many of `funcs` fast_getsource reads (each must read as inspect.getsource does)."""
    compared = 0
    for func in funcs:
        fast = fast_getsource(func)
        if fast is not None:
            assert fast == inspect.getsource(func), func.__qualname__
            compared += 1
    return compared


def test_tricky_shapes_match_inspect_or_fall_back(tricky):
    assert matching_inspect([*functions_of(tricky), tricky.Holder.static]) >= 9
    assert fast_getsource(tricky.wrapped) is None  # inspect unwraps; left to it
    assert fast_getsource(lambda: 1) is None
    assert "# deeper too" in fast_getsource(tricky.trailing_comments)
    assert "not this one" not in fast_getsource(tricky.trailing_comments)
    assert 'print("never")' in fast_getsource(tricky.dead_code)


@pytest.mark.parametrize("name", ["json.decoder", "textwrap", "inspect", "dataclasses", "argparse",
                                  "pathlib._local" if sys.version_info >= (3, 13) else "pathlib",  # its classes
                                  "logging", "zipfile", "email.message", "artrepo.runtime.driver",
                                  "artrepo.repository.versions", "artrepo.gitdb.objects"])
def test_library_functions_match_inspect(name):
    assert matching_inspect(functions_of(importlib.import_module(name))) >= 5


@pytest.mark.parametrize("src", ["def f():\n    return 1\n", "def f():\n    \n\t\n    return 1\n  \n",
                                 "\n    def f():\n        return 1\n", "    def f():\n  \n        return 1\n",
                                 "\tdef f():\n\t\treturn 1\n", "x = 1  \n   \ny = 2\n", "", "   \n", "@d\ndef g(): pass"])
def test_dedent_is_textwrap_dedent(src):
    from artrepo.runtime.codehash import dedent

    assert dedent(src) == textwrap.dedent(src)


def test_dedent_matches_textwrap_on_real_sources(tricky):
    from artrepo.runtime.codehash import dedent

    funcs = [*functions_of(tricky), *functions_of(importlib.import_module("pathlib"))]
    for func in funcs:
        src = inspect.getsource(func)
        assert dedent(src) == textwrap.dedent(src), func.__qualname__


def test_library_roots_cover_what_sysconfig_names():
    import sysconfig

    from artrepo.runtime.codehash import _is_user_module, _library_roots

    paths = sysconfig.get_paths()
    assert {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")} <= set(_library_roots())
    assert not _is_user_module("json") and not _is_user_module("pytest") and not _is_user_module("artrepo.names")
    assert _is_user_module(__name__)  # a test module is the user's code
