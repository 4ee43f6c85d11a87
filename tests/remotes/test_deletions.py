"""A deleted version travels (issue 12 item 8): a pull never brings it back, a push removes it from the remote
(its labels and aliases), and a clone that still publishes it drops it at its next pull or push; against
every backend (folder, memory://, S3 on moto_server)."""
import numpy as np

from artrepo.remotes.config import add_remote, get_remote, open_remote
from artrepo.remotes.pull import clone, pull
from artrepo.remotes.push import push
from artrepo.remotes.state import read_state
from artrepo.repository import Repository
from artrepo.values import load_value, save_value
from artrepo_testing import git_fsck


def labels(repo, name="weights"):
    return sorted(repo.version_refs(name))


def test_a_deletion_reaches_the_remote_and_every_clone_and_never_comes_back(tmp_path, remote_url):
    a = Repository.init(tmp_path / "a")
    add_remote(a, "origin", remote_url[0], remote_url[1], trusted=True)
    first = save_value(a, np.arange(10), "weights")
    save_value(a, np.arange(20), "weights")
    a.set_alias(first, "production")
    push(a, get_remote(a, "origin"))
    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1], trusted=True)[0])

    a.delete_version(first)
    pull(a, get_remote(a, "origin"))  # the remote still publishes it: not adopted again
    assert labels(a) == ["2"] and a.aliases("weights") == {}
    push(a, get_remote(a, "origin"))
    remote_refs = read_state(open_remote(get_remote(a, "origin"))).refs
    assert first.id not in remote_refs.values()  # its label and its alias left the remote
    c = Repository(clone(remote_url[0], tmp_path / "c", remote_url[1], trusted=True)[0])
    assert labels(c) == ["2"] and c.aliases("weights") == {}

    pull(b, get_remote(b, "origin"))  # cloned before the deletion: drops the version at its next pull
    assert labels(b) == ["2"] and b.aliases("weights") == {}
    assert b.deleted(first.id)
    for repo in (a, b, c):
        git_fsck(repo.root)


def test_a_clone_that_pushes_without_pulling_does_not_publish_a_version_deleted_elsewhere(tmp_path, remote_url):
    a = Repository.init(tmp_path / "a")
    add_remote(a, "origin", remote_url[0], remote_url[1], trusted=True)
    kept = save_value(a, np.arange(10), "weights")
    doomed = save_value(a, np.arange(20), "weights")
    push(a, get_remote(a, "origin"))
    b = Repository(clone(remote_url[0], tmp_path / "b", remote_url[1], trusted=True)[0])
    b.delete_version(b.get("weights", "2"))
    push(b, get_remote(b, "origin"))

    save_value(a, [3], "other")
    push(a, get_remote(a, "origin"))  # a still publishes version 2: the remote's deletion wins
    assert labels(a) == ["1"]
    remote_refs = read_state(open_remote(get_remote(a, "origin"))).refs
    assert doomed.id not in remote_refs.values() and kept.id in remote_refs.values()
    assert load_value(a, a.get("other", "1")) == [3]
    d = Repository(clone(remote_url[0], tmp_path / "d", remote_url[1], trusted=True)[0])
    assert labels(d) == ["1"] and sorted(d.names()) == ["other", "weights"]
    git_fsck(a.root)
    git_fsck(d.root)


def test_a_deletion_from_a_remote_not_trusted_takes_nothing_away(tmp_path, remote_url):
    """A teammate's deletion travels only between clones that trust the remote, as cache entries do
    (docs/reliability.md, threat model): a stranger with write access cannot unpublish a pulled version."""
    a = Repository.init(tmp_path / "a")
    add_remote(a, "origin", remote_url[0], remote_url[1], trusted=True)
    kept = save_value(a, np.arange(10), "weights")
    push(a, get_remote(a, "origin"))
    victim = Repository(clone(remote_url[0], tmp_path / "victim", remote_url[1])[0])  # not --trusted
    a.delete_version(kept)
    push(a, get_remote(a, "origin"))

    pull(victim, get_remote(victim, "origin"))
    assert labels(victim) == ["1"] and not victim.deleted(kept.id)
    assert load_value(victim, victim.get("weights", "1")).tolist() == list(range(10))
    push(victim, get_remote(victim, "origin"))  # the victim's push publishes it again
    assert kept.id in read_state(open_remote(get_remote(a, "origin"))).refs.values()
    git_fsck(victim.root)
