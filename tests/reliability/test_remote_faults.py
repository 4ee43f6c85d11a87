"""Remote faults: SIGKILL during push and pull, many clones pushing at once, a flaky network to S3.

Every scenario ends with both sides valid: stock `git fsck` locally, `artrepo
fsck --remote --read-data` on the remote, and bit-exact data in a clone.
(tests/remotes/test_interrupted_transfer.py covers the folder-remote push
kill without a published state; here the remote already holds a version, both
backends are covered, and what a re-run sends is counted.)
"""
import random
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from artrepo.values import load_value, save_value
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.pull import clone, pull
from artrepo.remotes.push import push
from artrepo.repository import Repository
from artrepo_testing import git_fsck, kill_when, run_cli
from helpers import payload, python_child
from remote_fixtures import moto_server, s3_env  # noqa: F401  (fixtures)


TRANSFER = """
import sys
from artrepo.repository import Repository
from artrepo.remotes.config import get_remote
from artrepo.remotes.{verb} import {verb}
repo = Repository(sys.argv[1])
{verb}(repo, get_remote(repo, "origin"))
"""
# A pusher slowed down before it publishes its ref table, so that the kill lands between the
# first pack's arrival and the table even on a loaded machine (the poll of the remote's packs may
# otherwise see the first pack only after the whole push ended).
SLOW_TABLE = """
import time
from artrepo.storage.backends.local import LocalBackend
from artrepo.storage.backends.s3 import S3Backend
for cls in (LocalBackend, S3Backend):
    def slow(self, key, data, token, _write=cls.put_if_match):
        time.sleep(5)
        return _write(self, key, data, token)
    cls.put_if_match = slow
"""
BIG = 5_000_000  # float64: 40 MB, three remote packs


@pytest.fixture(params=["folder", "s3"])
def remote_kind(request, tmp_path):
    """(url, endpoint, a function giving {pack name: size} of the packs now on the remote)."""
    if request.param == "folder":
        folder = tmp_path / "remote"

        def packs():
            top = folder / "packs"
            return {p.name: p.stat().st_size for p in top.iterdir() if not p.name.startswith(".")} if top.is_dir() else {}
        return str(folder), None, packs
    endpoint, bucket = request.getfixturevalue("s3_env")
    from artrepo.storage.backends.s3 import s3_filesystem

    fs = s3_filesystem(endpoint)

    def s3_packs():
        try:
            return {d["name"]: d["size"] for d in fs.ls(f"{bucket}/shared/packs", detail=True, refresh=True)}
        except FileNotFoundError:
            return {}
    return f"s3://{bucket}/shared", endpoint, s3_packs




def remote_fsck_clean(root: Path, remote: str = "origin") -> str:
    proc = run_cli("fsck", "--remote", remote, "--read-data", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def publisher(tmp_path: Path, url: str, endpoint) -> Repository:
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", url, endpoint)
    save_value(repo, "first", "note")
    push(repo, get_remote(repo, "origin"))  # the remote has a ref table before the killed transfer
    return repo


def test_push_killed_mid_upload_leaves_both_sides_valid_and_the_rerun_skips_what_arrived(tmp_path, remote_kind):
    url, endpoint, remote_packs = remote_kind
    repo = publisher(tmp_path, url, endpoint)
    data = payload(7, BIG)
    save_value(repo, data, "big")
    before = remote_packs()
    child = SLOW_TABLE + TRANSFER.format(verb="push").replace("sys.argv[1]", repr(str(repo.root)))
    proc = python_child(child, tmp_path)
    assert kill_when(proc, lambda: len(remote_packs()) > len(before)), "the push finished before it was killed"
    arrived = sum(size for name, size in remote_packs().items() if name not in before)
    git_fsck(repo.root)
    assert "note:" in remote_fsck_clean(repo.root)  # the arrived packs are unpublished leftovers, noted
    result = push(repo, get_remote(repo, "origin"))
    assert result.versions == 1
    assert 0 < arrived and result.bytes_sent <= data.nbytes - arrived + (1 << 20), (arrived, result.bytes_sent)
    remote_fsck_clean(repo.root)
    root, _ = clone(url, tmp_path / "b", endpoint)
    b = Repository(root)
    assert np.array_equal(load_value(b, b.get("big", "1")), data)
    git_fsck(root)


def test_pull_killed_mid_download_leaves_both_sides_valid_and_the_rerun_skips_what_arrived(tmp_path, remote_kind):
    url, endpoint, _ = remote_kind
    repo = publisher(tmp_path, url, endpoint)
    data = payload(8, BIG)
    save_value(repo, data, "big")
    push(repo, get_remote(repo, "origin"))
    b = Repository.init(tmp_path / "b")
    add_remote(b, "origin", url, endpoint)
    packs = b.git_dir / "chunks" / "packs"
    proc = python_child(TRANSFER.format(verb="pull").replace("sys.argv[1]", repr(str(b.root))), tmp_path)
    assert kill_when(proc, lambda: sum(1 for p in packs.rglob("*") if p.is_file() and p.name[0] != ".") >= 1)
    arrived = sum(p.stat().st_size for p in packs.rglob("*") if p.is_file() and p.name[0] != ".")
    git_fsck(b.root)
    assert run_cli("fsck", "--read-data", cwd=b.root).returncode == 0
    b = Repository(b.root)
    assert "big" not in b.names()  # data first: no ref before its data
    result = pull(b, get_remote(b, "origin"))
    assert result.bytes_sent <= data.nbytes - arrived + (1 << 20)
    assert np.array_equal(load_value(b, b.get("big", "1")), data)
    git_fsck(b.root)
    remote_fsck_clean(b.root)


CLONE_PUSHER = """
import random, subprocess, sys, time
import numpy as np
from artrepo.values import save_value
from artrepo.repository import Repository
clone_no, saves = {clone_no}, {saves}
repo = Repository(".")
rng = random.Random(clone_no)
for i in range(saves):
    save_value(repo, np.random.default_rng(1000 * clone_no + i).random(20_000), "shared")
    time.sleep(rng.uniform(0, 0.3))
    out = subprocess.run([sys.executable, "-m", "artrepo", "push"], capture_output=True, text=True)
    print(out.stdout, end="")
    if out.returncode:
        sys.exit(out.stderr)
"""


def many_clones_push(tmp_path: Path, url: str, endpoint, clones: int, saves: int) -> None:
    publisher(tmp_path, url, endpoint)
    roots = [clone(url, tmp_path / f"clone{c}", endpoint)[0] for c in range(clones)]
    procs = [python_child(CLONE_PUSHER.format(clone_no=c, saves=saves), root, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) for c, root in enumerate(roots)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    printed = "".join(out for out, _ in outputs)
    assert printed.count("renumbered shared:") >= clones - 1, printed  # every later pusher was told
    final = clone(url, tmp_path / "check", endpoint)[0]
    b = Repository(final)
    labels = b.version_refs("shared")
    assert sorted(labels, key=int) == [str(n) for n in range(1, clones * saves + 1)]
    expected = {(c, i): np.random.default_rng(1000 * c + i).random(20_000) for c in range(clones) for i in range(saves)}
    found = []
    for label in labels:
        value = load_value(b, b.get("shared", label))
        found += [key for key, arr in expected.items() if np.array_equal(arr, value)]
    assert sorted(found) == sorted(expected)  # every version exactly once
    remote_fsck_clean(final)
    for root in roots:
        git_fsck(root)


def test_many_clones_pushing_one_name_at_once_keep_every_version_exactly_once(tmp_path):
    many_clones_push(tmp_path, str(tmp_path / "remote"), None, clones=4, saves=5)


@pytest.mark.long
def test_many_clones_pushing_one_name_to_s3_keep_every_version_exactly_once(tmp_path, s3_env):
    endpoint, bucket = s3_env
    many_clones_push(tmp_path, f"s3://{bucket}/shared", endpoint, clones=4, saves=5)


class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of moto_server that spoils about `rate` of the requests.

    One request per connection (it asks the server to close, so responses end at EOF). A spoiled
    request gets a 503 SlowDown, a connection reset (RST, nothing forwarded), or the real response cut
    in half. It stops when closed, and on its own after `lifetime` seconds.
    """

    FAULTS = ("503", "reset", "truncate")

    def __init__(self, upstream: str, rate: float = 0.1, seed: int = 5, lifetime: float = 240):
        host, _, port = upstream.rpartition("//")[2].partition(":")
        self.upstream = (host, int(port))
        self.rate, self.rng, self.lock = rate, random.Random(seed), threading.Lock()
        self.requests, self.faults = 0, dict.fromkeys(self.FAULTS, 0)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.deadline = time.monotonic() + lifetime
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.stopped = True

    def _serve(self) -> None:
        with self.server:
            while not self.stopped and time.monotonic() < self.deadline:
                try:
                    conn, _ = self.server.accept()
                except (socket.timeout, OSError):
                    continue
                threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _pick(self) -> str | None:
        with self.lock:
            self.requests += 1
            if self.rng.random() >= self.rate:
                return None
            fault = self.rng.choice(self.FAULTS)
            self.faults[fault] += 1
            return fault

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                request = self._read_request(conn)
                if request is None:
                    return
                fault = self._pick()
                if fault == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return
                if fault == "503":
                    body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                    conn.sendall(b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    return
                response = self._forward(request)
                if fault == "truncate":
                    head_end = response.find(b"\r\n\r\n") + 4
                    response = response[:head_end + (len(response) - head_end) // 2]
                conn.sendall(response)
            except OSError:
                return

    def _read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return None
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith((b"connection:", b"expect:"))]
        headers = {ln.split(b":", 1)[0].strip().lower(): ln.split(b":", 1)[1].strip() for ln in lines[1:]}
        if b"100-continue" in head.lower():
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while not body.endswith(b"0\r\n\r\n"):
                more = conn.recv(65536)
                if not more:
                    return None
                body += more
        else:
            length = int(headers.get(b"content-length", b"0"))
            while len(body) < length:
                more = conn.recv(min(1 << 20, length - len(body)))
                if not more:
                    return None
                body += more
        return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=30) as up:
            up.sendall(request)
            chunks = []
            while True:
                more = up.recv(1 << 20)
                if not more:
                    return b"".join(chunks)
                chunks.append(more)


ROUNDS = 5


def run_until_done(args, cwd: Path, attempts: int = 12) -> tuple[int, list[str]]:
    """Run a CLI transfer until it succeeds; every failure must be exit 1 with one line. (runs, failures)"""
    failures = []
    for run in range(1, attempts + 1):
        proc = run_cli(*args, cwd=cwd, timeout=300)
        if proc.returncode == 0:
            return run, failures
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        failures.append(lines[0])
        assert run_cli("fsck", "--read-data", cwd=cwd).returncode == 0  # nothing unverified was stored
        git_fsck(cwd)
    raise AssertionError(f"{args} never succeeded in {attempts} runs: {failures}")


@pytest.mark.parametrize("rate", [pytest.param(0.1, id="10pct"), pytest.param(0.3, id="30pct", marks=pytest.mark.long)])
def test_push_and_pull_through_a_flaky_network_succeed_or_fail_cleanly_and_lose_nothing(tmp_path, s3_env, rate):
    endpoint, bucket = s3_env
    url = f"s3://{bucket}/flaky"
    proxy = FlakyProxy(endpoint, rate=rate)
    a, b = Repository.init(tmp_path / "a"), Repository.init(tmp_path / "b")
    values, runs, failures = {}, 0, []
    try:
        for repo in (a, b):
            add_remote(repo, "origin", url, proxy.url)
        for round_no in range(ROUNDS):  # each round: new versions pushed by `a`, pulled by `b`
            for i in range(2):
                values[f"item{i}", str(round_no + 1)] = value = payload(100 * round_no + i, 200_000)
                save_value(a, value, f"item{i}")
            for repo, verb in ((a, "push"), (b, "pull")):
                n, failed = run_until_done([verb], repo.root)
                runs, failures = runs + n, failures + failed
    finally:
        proxy.close()
    assert proxy.requests > 40 and sum(proxy.faults.values()) > 0, (proxy.requests, proxy.faults)
    print(f"\nflaky network ({rate:.0%}): {proxy.requests} requests, faults {proxy.faults}, {runs} CLI runs, "
          f"{len(failures)} clean failures: {sorted(set(failures))[:5]}")
    b = Repository(tmp_path / "b")
    for (name, label), value in values.items():
        assert np.array_equal(load_value(b, b.get(name, label)), value)
    c = Repository.init(tmp_path / "c")  # a clean pull, straight to the server
    add_remote(c, "origin", url, endpoint)
    pull(c, get_remote(c, "origin"))
    for (name, label), value in values.items():
        assert np.array_equal(load_value(c, c.get(name, label)), value)
    remote_fsck_clean(c.root)
    git_fsck(b.root)
