"""Shared fixtures: a fresh repository per test (helpers live in artrepo_testing.py)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory):
    """What artrepo keeps outside repositories (the dashboard's index) goes to this session's folder, not ~/.cache."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True)
def _scrubbed_env(monkeypatch):
    """Tests never see the developer's ARTREPO_*, GIT_* or AWS_* settings."""
    for key in list(os.environ):
        if key.startswith(("ARTREPO_", "GIT_", "AWS_")):
            monkeypatch.delenv(key, raising=False)
    yield
    from artrepo import repository

    for repo in repository._OPEN.values():
        repo.close()
    repository._OPEN.clear()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An initialized project folder, made the working directory."""
    from artrepo.repository import Repository

    root = tmp_path / "project"
    Repository.init(root).close()
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def repo(project):
    from artrepo.client import active_repository

    return active_repository(project)



@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (root only), for full-disk tests; skipped cleanly where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
