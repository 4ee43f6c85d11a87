"""runtime/introspect.py answers as inspect does, without importing it, or hands over to it."""
from __future__ import annotations

import functools
import inspect
import subprocess
import sys

import pytest

from artrepo.runtime import introspect


def plain(a, b=2, *, c, d=None):
    return a, b, c, d


def every_kind(a, /, b, c=3, *args, d, e=5, **kwargs):
    return a


def no_parameters():
    return 1


def defaults_only(x=1, y="two", z=None):
    return x


@functools.wraps(plain)
def wrapped(*args, **kwargs):
    return plain(*args, **kwargs)


def with_signature(**kwargs):
    return kwargs


with_signature.__signature__ = inspect.Signature([inspect.Parameter("only", inspect.Parameter.KEYWORD_ONLY)])

FUNCTIONS = [plain, every_kind, no_parameters, defaults_only, wrapped, with_signature, functools.partial(plain, 1),
             lambda q, r=1: q, print]


def expected_parameters(func):
    return [(p.name, p.kind.name, introspect.EMPTY if p.default is p.empty else p.default)
            for p in inspect.signature(func).parameters.values()]


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_parameters_are_what_inspect_signature_gives(func):
    assert introspect.parameters(func) == expected_parameters(func)


CALLS = [
    (plain, (1,), {"c": 3}), (plain, (), {"a": 1, "b": 5, "c": 3}), (plain, (1, 2, 3), {"c": 3}),
    (plain, (1,), {}), (plain, (1,), {"c": 3, "zz": 0}), (plain, (1,), {"a": 1, "c": 3}),
    (defaults_only, (), {}), (defaults_only, (), {"y": "b"}), (defaults_only, (9, 8, 7), {}),
    (no_parameters, (), {}), (no_parameters, (1,), {}), (no_parameters, (), {"x": 1}),
    (every_kind, (1, 2), {"d": 4}), (every_kind, (1, 2, 3, 4, 5), {"d": 4, "extra": 6}), (every_kind, (), {"a": 1}),
    (wrapped, (1,), {"c": 3}), (with_signature, (), {"only": 1}), (with_signature, (), {}),
]


def inspect_bind(func, args, kwargs):
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.args, bound.kwargs, dict(bound.arguments)


@pytest.mark.parametrize("func,args,kwargs", CALLS)
def test_binding_matches_inspect_including_its_errors(func, args, kwargs):
    try:
        want = inspect_bind(func, args, kwargs)
    except TypeError as exc:
        with pytest.raises(TypeError) as got:
            introspect.bind(func, args, kwargs)
        assert str(got.value) == str(exc)
        return
    call_args, call_kwargs, arguments = introspect.bind(func, args, kwargs)
    assert list(arguments.items()) == list(want[2].items())  # same values, in parameter order
    assert func(*call_args, **call_kwargs) == func(*want[0], **want[1])


def test_source_lines_match_inspect_findsource_or_step_aside(tmp_path):
    for func in (plain, every_kind, test_source_lines_match_inspect_findsource_or_step_aside):
        lines, start = introspect.source_lines(func)
        assert (lines, start) == inspect.findsource(func)
    assert introspect.source_lines(wrapped) is None and introspect.source_lines(print) is None
    cookie = tmp_path / "latin.py"
    cookie.write_bytes(b"# -*- coding: latin-1 -*-\ndef f():\n    return '\xe9'\n")
    namespace = {}
    exec(compile(cookie.read_bytes(), str(cookie), "exec"), namespace)
    assert introspect.source_lines(namespace["f"]) is None  # inspect decodes the cookie
    assert introspect.unwrap(wrapped) is plain and introspect.unwrap(plain) is plain


def test_a_plain_step_and_pipeline_never_import_inspect(tmp_path):
    code = ("import sys\nfrom artrepo.runtime import introspect, signature\n"
            "def f(a, b=1, *, c=2) -> int:\n    return a\n"
            "print(introspect.bind(f, (1,), {'c': 3})[2], signature.input_names(f), signature.output_specs(f)[0].key,"
            " introspect.source_lines(f) is not None, 'inspect' in sys.modules)\n")
    (tmp_path / "probe.py").write_text(code)
    out = subprocess.run([sys.executable, str(tmp_path / "probe.py")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{'a': 1, 'b': 1, 'c': 3} ['a', 'b', 'c'] output True False"
