"""Request counts on S3 (moto_server), counted per HTTP attempt by a botocore event hook."""
import os
from collections import Counter
from urllib.parse import urlsplit

import numpy as np
import pytest

from artrepo import atomic
from artrepo.storage import transfer
from artrepo.storage.backend import open_backend
from artrepo.storage.backends.s3 import S3Backend
from artrepo.values import save_value
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.pull import clone
from artrepo.remotes.push import push
from artrepo.repository import Repository
from artrepo_testing import run_cli

CLONE_BOUND = 20  # issue 15: a clone of 10,000 small versions makes at most this many requests


class Sent(list):
    """(method, what) of each HTTP attempt; `what` is the first folder under the remote's prefix
    (state, packs, index, git), or "" for a request about the bucket (a listing)."""

    def methods(self) -> list[str]:
        return [method for method, _what in self]

    def kinds(self) -> Counter:
        return Counter(self)


def _count(backend, sent: Sent) -> None:
    backend.fs.connect()
    depth = len([p for p in backend.prefix.split("/") if p]) + 2  # "", bucket, prefix parts

    def note(request, **_kw):
        parts = urlsplit(request.url).path.split("/")
        sent.append((request.method, parts[depth] if len(parts) > depth else ""))

    backend.fs.s3.meta.events.register("before-send.s3", note)


def counted_backend(url: str, endpoint: str):
    backend = open_backend(url, endpoint)
    sent = Sent()
    _count(backend, sent)
    return backend, sent


@pytest.fixture
def every_request(monkeypatch) -> Sent:
    """Every HTTP attempt of every S3 backend this process opens from now on (clone opens its own)."""
    sent = Sent()
    real = S3Backend.__init__

    def counting(self, *args, **kwargs):
        real(self, *args, **kwargs)
        _count(self, sent)

    monkeypatch.setattr(S3Backend, "__init__", counting)
    return sent


@pytest.fixture
def no_flush(monkeypatch):
    """Saves without their flushes: these tests build hundreds of versions and measure requests, not durability."""
    monkeypatch.setattr(atomic, "_syncfs", lambda fd: None)
    monkeypatch.setattr(atomic, "fsync_dir", lambda path: None)
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture
def bucket_repo(tmp_path, s3_env):
    endpoint, bucket = s3_env
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", f"s3://{bucket}/team", endpoint)
    return repo, f"s3://{bucket}/team", endpoint


def test_many_small_artifacts_go_up_in_a_few_requests_and_a_no_op_push_costs_one(bucket_repo):
    repo, url, endpoint = bucket_repo
    for i in range(120):
        save_value(repo, {"row": i, "text": "x" * 200}, f"item{i % 30}")
    backend, sent = counted_backend(url, endpoint)
    result = push(repo, get_remote(repo, "origin"), backend=backend)
    assert result.versions == 120
    assert len(sent) <= 8, sent  # ref table, pack, index, git pack, ref table write (+ existence check)
    sent.clear()
    for _ in range(3):
        assert push(repo, get_remote(repo, "origin"), backend=backend).up_to_date
    assert len(sent) == 3, sent  # one GET of the ref table each


def test_a_push_that_loses_the_race_rereads_and_renumbers(bucket_repo, tmp_path):
    repo, url, endpoint = bucket_repo
    other = Repository.init(tmp_path / "b")
    add_remote(other, "origin", url, endpoint)
    save_value(repo, "a", "m")
    save_value(other, "b", "m")
    # `other` reads the table, then `repo` wins the write in between: other's If-Match fails once.
    backend, sent = counted_backend(url, endpoint)
    real_read = backend.get_with_token
    raced = []

    def read_then_let_the_other_win(key):
        found = real_read(key)
        if not raced:
            raced.append(push(repo, get_remote(repo, "origin")))
        return found

    backend.get_with_token = read_then_let_the_other_win
    result = push(other, get_remote(other, "origin"), backend=backend)
    assert raced[0].versions == 1
    assert result.renumbered == ["m:1 \u2192 m:2"]
    assert sent.methods().count("PUT") >= 4  # data, index, git pack, the refused and the winning table write


def test_a_first_push_of_new_data_sends_one_request_per_pack_and_probes_none(bucket_repo, monkeypatch):
    repo, url, endpoint = bucket_repo
    monkeypatch.setattr(transfer, "PACK_TARGET", 1 << 20)  # a few MB make several packs, as 1 GiB makes 64
    rng = np.random.default_rng(0)
    for i in range(3):
        save_value(repo, rng.integers(0, 256, 2 << 20, dtype=np.uint8), f"shard{i}")
    backend, sent = counted_backend(url, endpoint)
    first = push(repo, get_remote(repo, "origin"), backend=backend)
    assert first.packs >= 5 and first.versions == 3
    assert "HEAD" not in sent.methods(), sent
    assert sent.kinds() == {("GET", "state"): 1, ("PUT", "packs"): first.packs, ("PUT", "index"): 1,
                            ("PUT", "git"): 1, ("PUT", "state"): 1}, sent
    sent.clear()
    save_value(repo, rng.integers(0, 256, 3 << 20, dtype=np.uint8), "shard3")
    later = push(repo, get_remote(repo, "origin"), backend=backend)
    assert later.packs >= 2 and "HEAD" not in sent.methods(), sent
    assert sent.methods().count("PUT") == later.packs + 3  # packs, index, git pack, ref table
    assert len(sent) == later.packs + 4, sent  # + the ref table read (index files are cached)


def _pushed(tmp_path, s3_env, n: int, pushes: int = 1) -> str:
    """The URL of a remote holding `n` small versions (n / 10 names) pushed in `pushes` pushes."""
    endpoint, bucket = s3_env
    url = f"s3://{bucket}/team{n}x{pushes}"
    repo = Repository.init(tmp_path / f"a{n}x{pushes}")
    add_remote(repo, "origin", url, endpoint)
    names = max(1, n // 10)
    for i in range(n):
        save_value(repo, i, f"metric{i % names:04d}")
        if (i + 1) % (n // pushes) == 0:
            push(repo, get_remote(repo, "origin"))
    repo.close()
    return url


def _cloned(url: str, endpoint: str, dest, sent: Sent, n: int) -> Counter:
    sent.clear()
    _target, result = clone(url, dest, endpoint)
    assert result.versions == n
    return sent.kinds()


def test_a_clone_makes_as_few_requests_at_500_versions_as_at_50(s3_env, tmp_path, no_flush, every_request,
                                                                monkeypatch):
    monkeypatch.setattr("artrepo.remotes.state.FOLD_AT", 20)  # both remotes get a base ref table, as 10,000 would
    endpoint, _bucket = s3_env
    counts = {n: _cloned(_pushed(tmp_path, s3_env, n), endpoint, tmp_path / f"c{n}", every_request, n)
              for n in (50, 500)}
    assert counts[50] == counts[500], counts
    assert ("GET", "tables") in counts[500]
    assert sum(counts[500].values()) <= CLONE_BOUND
    assert set(counts[500]) <= {("GET", k) for k in ("state", "tables", "git", "index", "packs")}


def test_a_clone_after_many_pushes_and_a_remote_gc_stays_within_the_bound(s3_env, tmp_path, no_flush,
                                                                          every_request):
    endpoint, _bucket = s3_env
    url = _pushed(tmp_path, s3_env, 10, pushes=10)
    proc = run_cli("gc", "--remote", "origin", "--grace", "0", cwd=tmp_path / "a10x10")
    out = proc.stdout
    assert proc.returncode == 0 and "merged 10 remote index files into one" in out, out + proc.stderr
    assert "merged 10 git packs into one" in out and "small or partly unused packs into 1" in out, out
    kinds = _cloned(url, endpoint, tmp_path / "c", every_request, 10)
    # the ref table, one git pack, one index file, one data pack: as after a single push
    assert kinds == {("GET", "state"): 1, ("GET", "git"): 1, ("GET", "index"): 1, ("GET", "packs"): 1}, kinds
    assert sum(kinds.values()) <= CLONE_BOUND
