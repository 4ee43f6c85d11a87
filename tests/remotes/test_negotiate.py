"""Pure ref decisions: label merging with renumbering, aliases, create-only refs."""
from hypothesis import given, settings
from hypothesis import strategies as st

from artrepo.gitdb.layout import split_version_ref, version_ref
from artrepo.remotes.negotiate import alias_on_pull, alias_on_push, create_only, group_versions, merge_labels, ref_class


def never_custom(oid):
    return False


def test_colliding_auto_increment_version_moves_after_every_known_label():
    m = merge_labels({"1": "a", "2": "b", "3": "x"}, {"1": "a", "2": "b", "3": "y"}, set(), never_custom,
                     lambda a, b: False)
    assert m.labels == {"1": "a", "2": "b", "3": "x", "4": "y"}
    assert m.renumbered == [("3", "4")]
    assert m.moves == [("y", "3", "4")]


def test_renumbering_skips_labels_reserved_by_unpushed_local_versions():
    m = merge_labels({"3": "x"}, {"3": "y"}, {"1", "2", "3", "7"}, never_custom, lambda a, b: False)
    assert m.labels["8"] == "y"


def test_local_version_already_on_remote_takes_the_remote_label():
    m = merge_labels({"5": "y"}, {"3": "y"}, set(), never_custom, lambda a, b: False)
    assert m.moves == [("y", "3", "5")] and m.renumbered == [] and m.labels == {"5": "y"}


def test_custom_version_with_other_content_conflicts_and_same_content_is_a_no_op():
    remote, local = {"v1": "x"}, {"v1": "y"}
    m = merge_labels(remote, local, set(), lambda o: True, lambda a, b: False)
    assert m.conflicts == ["v1"] and m.labels == remote
    m = merge_labels(remote, local, set(), lambda o: True, lambda a, b: True)
    assert m.same_content == ["v1"] and not m.conflicts and m.labels == remote


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([str(i) for i in range(1, 8)]), st.sampled_from("abcdefgh"), max_size=6),
       st.dictionaries(st.sampled_from([str(i) for i in range(1, 8)]), st.sampled_from("fghijklm"), max_size=6))
def test_merge_never_drops_or_duplicates_a_version(remote, local):
    remote = {k: v for k, v in remote.items() if v not in list(remote.values())[:list(remote).index(k)]}
    local = {k: v for k, v in local.items() if v not in list(local.values())[:list(local).index(k)]}
    m = merge_labels(remote, local, set(local), never_custom, lambda a, b: False)
    assert all(m.labels[k] == v for k, v in remote.items())  # the remote's labels never change
    assert set(m.labels.values()) == set(remote.values()) | set(local.values())  # nothing lost
    assert len(set(m.labels.values())) == len(m.labels)  # each version once


def test_alias_moves_only_from_the_side_that_moved_it():
    assert alias_on_push("new", "old", "old") == "send"
    assert alias_on_push("old", "theirs", "old") == "keep"
    assert alias_on_push("mine", "theirs", "old") == "conflict"
    assert alias_on_pull("old", "theirs", "old") == "take"
    assert alias_on_pull(None, "theirs", None) == "take"
    assert alias_on_pull("mine", "old", "old") == "keep"
    assert alias_on_pull("mine", "theirs", "old") == "conflict"


def test_create_only_refs_never_move():
    assert create_only("a", None) == "send" and create_only(None, "a") == "take"
    assert create_only("a", "a") == "keep" and create_only("a", "b") == "conflict"


def test_ref_classes_and_encoded_version_refs_round_trip():
    ref = version_ref("train::load::output", "v.1")
    assert ref == "refs/artrepo/v/train+load+output/v,1"
    assert split_version_ref(ref) == ("train::load::output", "v.1")
    assert group_versions({ref: "c" * 40}) == {"train::load::output": {"v.1": "c" * 40}}
    assert [ref_class(r) for r in ("refs/artrepo/heads/m", "refs/artrepo/pipelines/p", "refs/artrepo/runs/1",
                                   "refs/artrepo/aliases/m/prod", "refs/artrepo/annotations")] == \
        ["derived", "derived", "create-only", "alias", "annotations"]


def test_a_ref_table_naming_refs_git_or_artrepo_would_refuse_is_an_integrity_error():
    import pytest

    from artrepo.errors import IntegrityError
    from artrepo.remotes.state import RemoteState, decode_state, encode_state

    good = RemoteState({"refs/artrepo/v/a+b/1": "c" * 40})
    assert decode_state(encode_state(good), "x").refs == good.refs
    for bad in ("refs/heads/main", "refs/artrepo/v/../x", "refs/artrepo/v/a b/1", "refs/artrepo/v/x.lock/1"):
        with pytest.raises(IntegrityError):
            decode_state(encode_state(RemoteState({bad: "c" * 40})), "x")
