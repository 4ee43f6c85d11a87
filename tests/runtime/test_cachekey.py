"""Cache-key parts, the first difference `--explain` names, and code hashes of user helpers."""
from __future__ import annotations

import importlib
import sys
import textwrap

import pytest
from hypothesis import given, strategies as st

from artrepo.errors import UserError
from artrepo.runtime.cachekey import cache_key, canonical_parameter, first_difference, key_parts
from artrepo.runtime.codehash import code_hash

json_like = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.text() |
                         st.floats(allow_nan=False), lambda inner: st.lists(inner) |
                         st.dictionaries(st.text(), inner), max_leaves=10)


def strictly_equal(x, y) -> bool:
    """Equal values of equal types: False is not 0 and -0.0 is not 0.0 for a cache key."""
    if type(x) is not type(y):
        return False
    if isinstance(x, list):
        return len(x) == len(y) and all(strictly_equal(i, j) for i, j in zip(x, y))
    if isinstance(x, dict):
        return sorted(x) == sorted(y) and all(strictly_equal(x[k], y[k]) for k in x)
    return repr(x) == repr(y)


@given(json_like, json_like)
def test_equal_parameters_give_equal_keys_and_different_ones_are_named(a, b):
    ka = key_parts("c", {"p": canonical_parameter("p", a)}, {}, [])
    kb = key_parts("c", {"p": canonical_parameter("p", b)}, {}, [])
    if strictly_equal(canonical_parameter("p", a), canonical_parameter("p", b)):
        assert cache_key(ka) == cache_key(kb)
    else:
        assert first_difference(ka, kb) == "parameter 'p' changed"


def test_a_bool_parameter_is_not_the_integer_it_equals():
    assert cache_key(key_parts("c", {"p": False}, {}, [])) != cache_key(key_parts("c", {"p": 0}, {}, []))


def test_first_difference_follows_code_parameters_inputs_outputs():
    base = key_parts("code1", {"lr": 0.1}, {"data": "aa"}, [("out", "model", "default")])
    assert first_difference(base, dict(base)) is None
    assert first_difference(base, key_parts("code2", {"lr": 0.2}, {"data": "aa"}, [])).startswith("code changed")
    assert first_difference(base, key_parts("code1", {"lr": 0.1}, {"data": "bb"}, [("out", "model", "default")])) \
        == "input 'data' content changed"
    assert first_difference(base, key_parts("code1", {"lr": 0.1, "k": 1}, {"data": "aa"}, [])) == "parameter 'k' added"
    assert first_difference(base, key_parts("code1", {"lr": 0.1}, {"data": "aa"}, [("o", "m", "x")])) \
        == "output names, versions or materializers changed"


def test_non_json_parameter_is_a_clear_error():
    with pytest.raises(UserError, match="parameter 'model' has a value of type object"):
        canonical_parameter("model", object())


def _module(tmp_path, name, source):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_code_hash_covers_user_helpers_and_constants_but_not_decorators(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    src = '''
        from artrepo import step
        FACTOR = 2
        def helper(x):
            return x * FACTOR
        @step{opts}
        def s(x: int) -> int:
            return helper(x) + len([x])
    '''
    h1 = code_hash(_module(tmp_path, "cc_a", src.format(opts="")).s.entrypoint)
    assert code_hash(_module(tmp_path, "cc_a", src.format(opts="(enable_cache=True)")).s.entrypoint) == h1
    assert code_hash(_module(tmp_path, "cc_a", src.replace("FACTOR = 2", "FACTOR = 3").format(opts="")).s.entrypoint) != h1
    assert code_hash(_module(tmp_path, "cc_a", src.replace("x * FACTOR", "x + FACTOR").format(opts="")).s.entrypoint) != h1
