"""Push, pull and clone against every backend: round trips, renumbering, conflicts, lazy data, trust."""
from pathlib import Path

import numpy as np
import pytest

from artrepo.values import load_value, save_value
from artrepo.errors import ConflictError, UntrustedPickleError
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.lazy import install_lazy_fetch
from artrepo.remotes.pull import clone, pull
from artrepo.remotes.push import push
from artrepo.repository import Repository
from artrepo_testing import git_fsck


def make_repo(root: Path, remote_url) -> Repository:
    repo = Repository.init(root)
    add_remote(repo, "origin", remote_url[0], remote_url[1])
    return repo


def origin(repo):
    return get_remote(repo, "origin")


@pytest.fixture
def array():
    return np.random.default_rng(7).random(400_000)  # 3.2 MB: several chunks, incompressible


def test_clone_loads_every_version_bit_exact_and_both_sides_pass_git_fsck(tmp_path, remote_url, array):
    a = make_repo(tmp_path / "a", remote_url)
    save_value(a, array, "weights")
    save_value(a, {"lr": 0.1}, "config", "exp-1")
    a.set_alias(a.get("weights", "1"), "production")
    a.annotate(a.get("weights", "1").id, tags=["baseline"])
    result = push(a, origin(a))
    assert result.versions == 2 and result.bytes_sent > array.nbytes * 0.9
    path, _ = clone(remote_url[0], tmp_path / "b", remote_url[1])
    b = Repository(path)
    assert np.array_equal(load_value(b, b.resolve("weights@production")), array)
    assert load_value(b, b.get("config", "exp-1")) == {"lr": 0.1}
    assert [n.tags for n in b.annotations(b.get("weights", "1").id)] == [("baseline",)]
    assert b.origin(b.get("weights", "1").id) == "origin" and a.origin(a.get("weights", "1").id) is None
    git_fsck(tmp_path / "a")
    git_fsck(tmp_path / "b")


def test_second_push_sends_only_what_changed(tmp_path, remote_url, array):
    a = make_repo(tmp_path / "a", remote_url)
    save_value(a, array, "weights")
    first = push(a, origin(a))
    changed = array.copy()
    changed[200_000:200_100] = 0.0
    save_value(a, changed, "weights")
    second = push(a, origin(a))
    assert second.versions == 1
    assert second.bytes_sent < first.bytes_sent * 0.3
    assert second.bytes_already > array.nbytes * 0.5
    assert push(a, origin(a)).up_to_date


def test_two_clones_pushing_the_same_auto_increment_number_both_succeed(tmp_path, remote_url):
    a = make_repo(tmp_path / "a", remote_url)
    save_value(a, "v1", "model")
    push(a, origin(a))
    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1])[0])
    save_value(a, "from a", "model")
    save_value(b, "from b", "model")
    b_id = b.get("model", "2").id
    assert push(a, origin(a)).renumbered == []
    assert push(b, origin(b)).renumbered == ["model:2 \u2192 model:3"]
    assert b.get("model", "3").id == b_id  # the id never changes; the label moved
    pull(a, origin(a))
    assert load_value(a, a.get("model", "2")) == "from a" and load_value(a, a.get("model", "3")) == "from b"
    git_fsck(tmp_path / "a")
    git_fsck(tmp_path / "b")


def test_custom_version_with_other_content_is_a_conflict_naming_it(tmp_path, remote_url):
    a = make_repo(tmp_path / "a", remote_url)
    b = make_repo(tmp_path / "b", remote_url)
    save_value(a, [1, 2], "data", "raw_2023")
    push(a, origin(a))
    save_value(b, [3, 4], "data", "raw_2023")
    with pytest.raises(ConflictError, match="data:raw_2023"):
        push(b, origin(b))
    c = make_repo(tmp_path / "c", remote_url)
    save_value(c, [1, 2], "data", "raw_2023")
    assert push(c, origin(c)).versions == 0  # same content under that label: nothing to do


def test_metadata_only_pull_fetches_no_chunk_and_load_fetches_on_demand(tmp_path, remote_url, array):
    a = make_repo(tmp_path / "a", remote_url)
    save_value(a, array, "weights")
    push(a, origin(a))
    b = make_repo(tmp_path / "b", remote_url)
    result = pull(b, origin(b), metadata_only=True)
    assert result.versions == 1 and result.bytes_sent == 0
    assert not any((tmp_path / "b/.artrepo/chunks/packs").rglob("*"))
    install_lazy_fetch(b)
    assert np.array_equal(load_value(b, b.get("weights", "1")), array)


def test_pickle_from_an_untrusted_remote_is_refused_before_unpickling(tmp_path, remote_url):
    a = make_repo(tmp_path / "a", remote_url)
    with pytest.warns(UserWarning):
        save_value(a, lambda x: x + 1, "fn")
    push(a, origin(a))
    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1])[0])
    with pytest.raises(UntrustedPickleError, match="fn:1"):
        load_value(b, b.get("fn", "1"))
    assert load_value(b, b.get("fn", "1"), allow_pickle=True)(1) == 2
    c = Repository(clone(remote_url[0], tmp_path / "c", remote_url[1], trusted=True)[0])
    assert load_value(c, c.get("fn", "1"))(2) == 3


def test_pull_renumbers_local_unpushed_versions_after_the_remote_ones(tmp_path, remote_url):
    a = make_repo(tmp_path / "a", remote_url)
    b = make_repo(tmp_path / "b", remote_url)
    save_value(a, "remote one", "m")
    push(a, origin(a))
    save_value(b, "local one", "m")
    result = pull(b, origin(b))
    assert result.renumbered == ["local m:1 \u2192 m:2"]
    assert load_value(b, b.get("m", "1")) == "remote one" and load_value(b, b.get("m", "2")) == "local one"
    assert push(b, origin(b)).versions == 1


def test_alias_moved_on_both_sides_is_a_conflict_and_moved_on_one_side_follows(tmp_path, remote_url):
    a = make_repo(tmp_path / "a", remote_url)
    save_value(a, 1, "m")
    save_value(a, 2, "m")
    a.set_alias(a.get("m", "1"), "prod")
    push(a, origin(a))
    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1])[0])
    b.set_alias(b.get("m", "2"), "prod")
    push(b, origin(b))
    pull(a, origin(a))
    assert a.resolve("m@prod").version == "2"
    a.set_alias(a.get("m", "1"), "prod")
    save_value(b, 3, "m")
    b.set_alias(b.get("m", "3"), "prod")
    push(b, origin(b))
    with pytest.raises(ConflictError, match="prod"):
        push(a, origin(a))


def test_annotations_added_on_two_clones_are_merged_not_lost(tmp_path, remote_url):
    a = make_repo(tmp_path / "a", remote_url)
    save_value(a, 1, "m")
    push(a, origin(a))
    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1])[0])
    vid = a.get("m", "1").id
    a.annotate(vid, tags=["from-a"])
    b.annotate(vid, tags=["from-b"])
    push(a, origin(a))
    push(b, origin(b))
    pull(a, origin(a))
    assert sorted(t for n in a.annotations(vid) for t in n.tags) == ["from-a", "from-b"]
    git_fsck(tmp_path / "a")
