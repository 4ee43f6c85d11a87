"""Remote fixtures: a real moto_server over HTTP, and one remote URL per backend kind.

Imported by the conftest.py of tests/storage and tests/remotes, and by the remote reliability tests.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

MOTO_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_command(port: int) -> list[str]:
    script = Path(sys.executable).parent / "moto_server"
    if script.exists():
        return [str(script), "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def moto_server():
    """The endpoint URL of a moto_server started for this session, stopped by its PID."""
    port = _free_port()
    proc = subprocess.Popen(_moto_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)


@pytest.fixture
def s3_env(moto_server, monkeypatch):
    """A fresh moto state, credentials in the environment, and one new bucket."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()
    for key, value in MOTO_ENV.items():
        monkeypatch.setenv(key, value)
    from artrepo.storage.backends.s3 import s3_filesystem

    bucket = "team-" + uuid.uuid4().hex[:8]
    s3_filesystem(moto_server).mkdir(bucket)
    return moto_server, bucket


@pytest.fixture(params=["folder", "memory", "s3"])
def remote_url(request, tmp_path):
    """(url, endpoint or None) of an empty remote of each backend kind."""
    if request.param == "folder":
        return str(tmp_path / "remote"), None
    if request.param == "memory":
        return f"memory://artrepo-tests/{uuid.uuid4().hex}", None
    endpoint, bucket = request.getfixturevalue("s3_env")
    return f"s3://{bucket}/shared", endpoint
