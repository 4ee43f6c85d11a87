"""Clone and pull of many versions: the labels, heads, records and origins they publish, and what they refuse."""
import gc
from pathlib import Path

import pytest

from artrepo.gitdb import layout
from artrepo.gitdb.objects import BLOB
from artrepo.records.artifact import VersionRecord
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes import pull as pull_module
from artrepo.remotes.pull import PullRefused, clone, pull
from artrepo.remotes.push import push
from artrepo.repository import Repository
from artrepo.values import load_value, save_value
from artrepo_testing import git_fsck

NAMES = [f"metric{i}" for i in range(4)]


def published(repo: Repository) -> dict[str, str]:
    """Version refs and aliases: what a user sees of the repository."""
    return {ref: oid for ref, oid in repo.published_refs().items() if layout.ref_kind(ref) in ("version", "alias")}


def heads(repo: Repository) -> dict[str, str]:
    return {name: repo.refs.get(layout.head_ref(name), derived=True) for name in repo.names()}


@pytest.fixture
def remote(tmp_path) -> tuple[Path, str]:
    """A folder remote pushed from `src`: 3 versions of each of NAMES, a custom one and an alias."""
    src = Repository.init(tmp_path / "src")
    for round_ in range(3):
        for name in NAMES:
            save_value(src, {"name": name, "round": round_}, name)
    save_value(src, [1, 2, 3], "config", "exp-1")
    src.set_alias(src.get("metric0", "2"), "production")
    url = str(tmp_path / "remote")
    add_remote(src, "origin", url)
    push(src, get_remote(src, "origin"))
    return src, url


def test_clone_publishes_what_the_remote_publishes_with_heads_origins_and_loadable_data(tmp_path, remote, monkeypatch):
    src, url = remote
    adopt, seen = pull_module._adopt_runs, []
    monkeypatch.setattr(pull_module, "_adopt_runs", lambda *a: (seen.append(gc.isenabled()), adopt(*a))[1])
    path, result = clone(url, tmp_path / "clone")
    b = Repository(path)
    assert seen == [False] and gc.isenabled()  # paused during the clone only
    assert published(b) == published(src) and result.versions == 3 * len(NAMES) + 1
    assert heads(b) == heads(src)
    for ref, oid in published(b).items():
        assert b.record(oid) == src.record(oid) and b.origin(oid) == "origin"
    assert load_value(b, b.resolve("metric0@production")) == {"name": "metric0", "round": 1}
    assert load_value(b, b.get("metric3", "3")) == {"name": "metric3", "round": 2}
    git_fsck(path)


def test_a_pull_into_a_repository_with_local_versions_publishes_the_same_remote_versions_as_a_clone(tmp_path,
                                                                                                    remote):
    _src, url = remote
    cloned = Repository(clone(url, tmp_path / "clone")[0])
    c = Repository.init(tmp_path / "c")
    mine = save_value(c, "made here", "metric1")  # takes label 1, which the remote's version 1 takes back
    other = save_value(c, "unrelated", "local-only")
    add_remote(c, "origin", url)
    result = pull(c, get_remote(c, "origin"))
    assert result.renumbered == ["local metric1:1 \u2192 metric1:4"]
    assert published(c) == {**published(cloned), layout.version_ref("metric1", "4"): mine.id,
                            layout.version_ref("local-only", "1"): other.id}
    assert {n: h for n, h in heads(c).items() if n not in ("metric1", "local-only")} == \
        {n: h for n, h in heads(cloned).items() if n != "metric1"}
    assert heads(c)["metric1"] == mine.id  # saved last of all
    assert c.origin(mine.id) is None and c.origin(cloned.get("metric1", "1").id) == "origin"
    git_fsck(tmp_path / "c")


def forge_mismatched_version(src: Repository, name: str) -> str:
    """A version commit of `name` whose record's content hash does not match its manifest (a real one)."""
    good = src.get("metric0", "1")
    fields = {s: getattr(good.record, s) for s in VersionRecord.__slots__}  # the __init__ keywords
    record = VersionRecord(**{**fields, "name": name, "content_hash": b"\0" * 32})
    manifest = src.objects.tree_listing(good.id, "")[layout.MANIFEST]
    tree = src.objects.write_tree_rows([(BLOB, layout.VERSION_RECORD, src.objects.write_blob(record.to_msgpack())),
                                        (BLOB, layout.MANIFEST, manifest)])
    commit = src.objects.write_commit(tree, [], f"artifact {name} (auto-increment)\n", good.record.created_ns)
    assert src.refs.create(layout.version_ref(name, "1"), commit, "forged")
    return commit


@pytest.mark.parametrize("into", ["clone", "pull into a repository with versions"])
def test_a_forged_version_among_many_is_refused_and_the_others_arrive(tmp_path, remote, into):
    src, url = remote
    forged = forge_mismatched_version(src, "evil")
    push(src, get_remote(src, "origin"))
    if into == "clone":
        with pytest.raises(PullRefused, match=r"refused 1 ref.*evil:1 \(its manifest does not match") as caught:
            clone(url, tmp_path / "b")
        b = Repository(tmp_path / "b")  # what verified was pulled: the clone stays
    else:
        b = Repository.init(tmp_path / "b")
        save_value(b, "made here", "metric2")
        add_remote(b, "origin", url)
        with pytest.raises(PullRefused, match=r"evil:1 \(its manifest does not match") as caught:
            pull(b, get_remote(b, "origin"))
    assert caught.value.result.versions == 3 * len(NAMES) + 1
    assert gc.isenabled()  # paused during the pull (heap.paused_gc), back on after a refusal too
    assert not b.has_name("evil") and forged not in b.published_refs().values()
    assert load_value(b, b.get("metric2", "3")) == {"name": "metric2", "round": 2}
    git_fsck(tmp_path / "b")
