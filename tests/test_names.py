"""Names, versions and references: the contract's charset, and encoding that git accepts."""
import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from artrepo import names
from artrepo.errors import InvalidNameError

BAD_NAMES = ["..", "a..b", "a/b", "a\0b", "a b", "a@b", "a:b", "ünï", ".hidden", "-x", "", "x" * 129,
             "a:::b", "a::", "::a", "a::.b", "tab\there"]
GOOD_NAMES = ["x", "x.lock", "a::b::c", "pipe::step::output", "a.", "A-b_c.9", "x" * 128]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_invalid_names_are_refused(bad):
    with pytest.raises(InvalidNameError):
        names.validate_name(bad)


@pytest.mark.parametrize("bad", ["..", ".", "-1", "a/b", "a b", "", "v" * 65, "a:b", "1@2", "a..b"])
def test_invalid_versions_are_refused(bad):
    with pytest.raises(InvalidNameError):
        names.validate_version(bad)


@pytest.mark.parametrize("good", GOOD_NAMES)
def test_names_git_would_refuse_encode_to_valid_ref_components(good):
    names.validate_name(good)
    ref = f"refs/artrepo/v/{names.encode(good)}/1"
    assert pygit2.reference_is_valid_name(ref)
    assert len(names.encode(good).encode()) <= 255
    assert names.decode(names.encode(good)) == good


_part = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,8}(\.[A-Za-z0-9_\-]{1,4}){0,2}", fullmatch=True)


@given(st.lists(_part, min_size=1, max_size=4))
def test_encoding_is_a_bijection_on_valid_names(parts):
    name = "::".join(parts)[:128]
    try:
        names.validate_name(name)
    except InvalidNameError:
        return
    assert names.decode(names.encode(name)) == name
    assert pygit2.reference_is_valid_name(f"refs/artrepo/v/{names.encode(name)}/x")


def test_reference_splits_at_the_last_single_colon():
    ref = names.parse_reference("pipe::step::output:3")
    assert (ref.name, ref.version, ref.alias) == ("pipe::step::output", "3", None)
    ref = names.parse_reference("model@production")
    assert (ref.name, ref.alias) == ("model", "production")
    assert names.parse_reference("deadbeef").may_be_id
    assert not names.parse_reference("deadbeef:1").may_be_id


def test_version_given_twice_is_refused():
    with pytest.raises(InvalidNameError):
        names.parse_reference("a:1", version="2")
