"""A push or pull killed with SIGKILL leaves both sides valid, and re-running completes it."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from artrepo.values import load_value, save_value
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.pull import clone
from artrepo.remotes.push import push
from artrepo.repository import Repository
from artrepo_testing import git_fsck, kill_when

PUSH = """
import sys
from artrepo.repository import Repository
from artrepo.remotes.config import get_remote
from artrepo.remotes.push import push
repo = Repository(sys.argv[1])
push(repo, get_remote(repo, "origin"))
"""




def test_push_killed_mid_upload_resumes_without_resending_what_arrived(tmp_path: Path):
    remote = tmp_path / "remote"
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", str(remote))
    data = np.random.default_rng(1).random(12_000_000)  # 96 MB: six packs
    save_value(repo, data, "big")
    proc = subprocess.Popen([sys.executable, "-c", PUSH, str(tmp_path / "a")], cwd=Path(__file__).parents[2])
    packs = remote / "packs"
    killed = kill_when(proc, lambda: packs.is_dir() and len([p for p in packs.iterdir()
                                                               if not p.name.startswith(".")]) >= 2)
    assert killed, "the push finished before it could be killed"
    assert not (remote / "state").exists()  # nothing published: the remote is still empty and valid
    arrived = sum(p.stat().st_size for p in packs.iterdir() if not p.name.startswith("."))
    result = push(repo, get_remote(repo, "origin"))
    assert result.versions == 1
    assert result.bytes_sent <= data.nbytes - arrived + (1 << 20)
    clone_root, _ = clone(str(remote), tmp_path / "b")
    b = Repository(clone_root)
    assert np.array_equal(load_value(b, b.get("big", "1")), data)
    git_fsck(tmp_path / "a")
    git_fsck(clone_root)


PULL = """
import sys
from artrepo.repository import Repository
from artrepo.remotes.config import get_remote
from artrepo.remotes.pull import pull
repo = Repository(sys.argv[1])
pull(repo, get_remote(repo, "origin"))
"""


def test_pull_killed_mid_download_leaves_no_visible_version_and_resumes(tmp_path: Path):
    remote = tmp_path / "remote"
    a = Repository.init(tmp_path / "a")
    add_remote(a, "origin", str(remote))
    data = np.random.default_rng(2).random(12_000_000)
    save_value(a, data, "big")
    push(a, get_remote(a, "origin"))
    b = Repository.init(tmp_path / "b")
    add_remote(b, "origin", str(remote))
    proc = subprocess.Popen([sys.executable, "-c", PULL, str(tmp_path / "b")], cwd=Path(__file__).parents[2])
    packs = tmp_path / "b/.artrepo/chunks/packs"
    assert kill_when(proc, lambda: sum(1 for p in packs.rglob("*") if p.is_file() and p.name[0] != ".") >= 2)
    assert Repository(tmp_path / "b").names() == []  # data first: no ref before its data
    git_fsck(tmp_path / "b")
    from artrepo.remotes.pull import pull

    b = Repository(tmp_path / "b")
    result = pull(b, get_remote(b, "origin"))
    assert result.bytes_sent < data.nbytes  # packs that had arrived are verified, not downloaded again
    assert np.array_equal(load_value(b, b.get("big", "1")), data)
