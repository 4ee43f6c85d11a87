"""One conformance suite for every backend: folder, memory:// and S3 on moto_server."""
import multiprocessing
import sys
from pathlib import Path

import pytest

from artrepo.errors import UserError
from artrepo.storage.backend import MissingObjectError, check_url, open_backend


def test_objects_round_trip_and_missing_keys_say_so(remote_url):
    backend = open_backend(*remote_url)
    backend.put("packs/ab", b"payload")
    assert backend.get("packs/ab") == b"payload"
    assert backend.exists("packs/ab") and not backend.exists("packs/cd")
    assert backend.get_with_token("state") is None
    assert backend.list_prefix("packs") == ["packs/ab"]
    try:
        backend.get("packs/cd")
        raise AssertionError("a missing key was read")
    except KeyError:
        pass


def test_ranged_reads_stop_at_the_end_and_missing_keys_say_so(remote_url):
    backend = open_backend(*remote_url)
    backend.put("packs/ab", [b"0123", memoryview(b"456789")])  # a list of buffers is written in order
    assert backend.get_range("packs/ab", 2, 5) == b"23456"
    assert backend.get_range("packs/ab", 8, 100) == b"89"
    assert backend.get_range("packs/ab", 10, 4) == b""
    with pytest.raises(MissingObjectError):
        backend.get_range("packs/cd", 0, 4)


def test_listing_gives_sizes_and_ages_and_delete_is_idempotent(remote_url):
    backend = open_backend(*remote_url)
    backend.put("index/a", b"x" * 10)
    backend.put("index/b", b"y" * 3)
    backend.put("packs/c", b"z")
    listed = backend.stat_prefix("index")
    assert {k: i.size for k, i in listed.items()} == {"index/a": 10, "index/b": 3}
    assert backend.info("index/a").size == 10 and backend.info("index/zz") is None
    backend.delete("index/a")
    backend.delete("index/a")
    assert backend.list_prefix("index") == ["index/b"]
    assert (backend.local_path("index/b") is not None) == (remote_url[0].startswith("/"))


def test_a_content_addressed_write_of_an_existing_key_is_success_and_changes_nothing(remote_url):
    backend = open_backend(*remote_url)
    backend.put_content("packs/ab", b"payload")
    backend.put_content("packs/ab", b"payload")  # a second writer of the same object: no error
    assert backend.get("packs/ab") == b"payload"


def test_an_unknown_protocol_is_one_user_error():
    with pytest.raises(UserError, match="nosuchproto"):
        check_url("nosuchproto://bucket/x")


def test_create_only_write_has_one_winner(remote_url):
    backend = open_backend(*remote_url)
    assert backend.put_if_absent("state", b"first")
    assert not backend.put_if_absent("state", b"second")
    assert backend.get("state") == b"first"


def test_compare_and_swap_refuses_a_stale_token(remote_url):
    backend = open_backend(*remote_url)
    backend.put_if_absent("state", b"v1")
    _, token = backend.get_with_token("state")
    assert backend.put_if_match("state", b"v2", token)
    assert not backend.put_if_match("state", b"v3", token)
    assert backend.get("state") == b"v2"
    assert not backend.put_if_match("absent", b"x", token)


def _race(url: str, i: int, barrier, results) -> None:
    backend = open_backend(url)
    barrier.wait()
    results.put(backend.put_if_absent("state", f"writer {i}".encode()))


def test_racing_processes_on_a_folder_remote_have_exactly_one_winner(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    for round_ in range(5):
        url = str(tmp_path / f"remote{round_}")
        barrier, results = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_race, args=(url, i, barrier, results)) for i in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        wins = [results.get(timeout=5) for _ in procs]
        assert wins.count(True) == 1, wins


def test_backends_are_registered_by_protocol_and_imported_only_when_used(tmp_path):
    import subprocess

    code = ("import sys, artrepo.storage.backend as b; b.open_backend(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith(('artrepo.storage.backends.', 's3fs', 'fsspec'))))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['artrepo.storage.backends.local']"
    from artrepo.storage.backend import register
    from artrepo.storage.backends.local import LocalBackend

    register("scratch", "artrepo.storage.backends.local:LocalBackend")
    backend = open_backend(f"scratch://{tmp_path}/x")
    backend.put_content("a/b", b"1")
    assert isinstance(backend, LocalBackend) and (tmp_path / "x" / "a" / "b").read_bytes() == b"1"
