"""Issue 14, the user's own files and disk: awkward files to register (13), a read-only repository
and a full disk (14).

As root, file permissions bind only a process without CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH: those runs go through `setpriv` (harness.without_root_overrides).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from forgery import FolderBucket
from harness import PIPELINE, TERMINAL_CONTROL, Victim


@pytest.fixture
def repo_root(victim):
    victim.cli("init", str(victim.root), cwd=victim.home)
    return victim.root


def nothing_written(victim) -> None:
    assert victim.cli("list").stdout.strip() == "no artifacts"
    assert not list((victim.root / ".artrepo" / "chunks").rglob("packs/*/*"))
    assert list((victim.root / ".artrepo" / "tmp").iterdir()) == []


def deep_tree(top: Path, levels: int = 20) -> None:
    """A tree whose full path exceeds PATH_MAX (made through directory descriptors)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d" * 250, dir_fd=fd)
            inner = os.open("d" * 250, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"deep\n")
        os.close(leaf)
    finally:
        os.close(fd)


def awkward(tmp_path: Path, kind: str) -> Path:
    """The path to register for each awkward case (made under `tmp_path`)."""
    folder = tmp_path / kind
    folder.mkdir()
    (folder / "fine.txt").write_text("fine\n")
    if kind == "unreadable-file":
        (folder / "secret.txt").write_text("secret\n")
        (folder / "secret.txt").chmod(0)
        return folder / "secret.txt"
    if kind == "unreadable-file-in-folder":
        (folder / "secret.txt").write_text("secret\n")
        (folder / "secret.txt").chmod(0)
    elif kind == "unreadable-subfolder":
        (folder / "locked").mkdir()
        (folder / "locked" / "x.txt").write_text("x\n")
        (folder / "locked").chmod(0o311)
    elif kind == "unreadable-folder":
        folder.chmod(0o311)
    elif kind == "path-longer-than-PATH_MAX":
        return folder / ("/".join(["n" * 200] * 25))
    elif kind == "tree-deeper-than-PATH_MAX":
        deep_tree(folder)
    elif kind in ("name-not-utf8", "file-name-not-utf8"):
        path = os.fsencode(folder) + b"/caf\xe9.txt"  # Latin-1, as an old archive would name it
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        return Path(os.fsdecode(path)) if kind == "file-name-not-utf8" else folder
    return folder


AWKWARD = ["unreadable-file", "unreadable-file-in-folder", "unreadable-subfolder", "unreadable-folder",
           "path-longer-than-PATH_MAX", "tree-deeper-than-PATH_MAX", "name-not-utf8", "file-name-not-utf8"]


@pytest.mark.parametrize("kind", AWKWARD)
def test_registering_an_awkward_path_is_one_line_and_writes_nothing(victim, repo_root, tmp_path, kind):
    path = awkward(tmp_path, kind)
    proc = victim.cli("register", os.fsdecode(path), "--name", "awkward", unprivileged=True)
    (tmp_path / kind).chmod(0o755)
    assert proc.refused(1), proc
    assert not TERMINAL_CONTROL.search(proc.stderr) and len(proc.stderr) < 600, proc.stderr
    nothing_written(victim)
    assert victim.cli("register", str(tmp_path / kind / "fine.txt"), "--name", "fine").returncode == 0


def test_registering_a_path_longer_than_PATH_MAX_through_the_api_is_a_user_error(victim, repo_root, tmp_path):
    path = awkward(tmp_path, "path-longer-than-PATH_MAX")
    proc = victim.python(f"""
        from artrepo import register_artifact
        from artrepo.errors import UserError
        try:
            register_artifact({os.fsdecode(path)!r}, "awkward")
        except UserError as exc:
            print("UserError", len(str(exc)))
    """)
    assert proc.stdout.startswith("UserError") and int(proc.stdout.split()[1]) < 600, proc
    nothing_written(victim)


@pytest.fixture
def read_only(victim, repo_root, forged, tmp_path):
    """A repository holding `num` and `notes`, with a remote `team` it has not pulled yet, then made read-only
    (restored after the test)."""
    forged.write_to(FolderBucket(tmp_path / "team"))
    assert victim.cli("remote", "add", "team", str(tmp_path / "team")).returncode == 0
    (tmp_path / "notes.txt").write_text("notes\n")
    assert victim.cli("register", str(tmp_path / "notes.txt"), "--name", "notes").returncode == 0
    victim.python("from artrepo import save_artifact; save_artifact(10, 'num')")
    subprocess.run(["chmod", "-R", "a-w", str(repo_root / ".artrepo")], check=True)
    yield repo_root
    subprocess.run(["chmod", "-R", "u+w", str(repo_root / ".artrepo")], check=True)


def test_a_read_only_repository_can_be_read(victim, read_only, tmp_path):
    for args in (["list"], ["show", "num"], ["log", "notes"], ["export", "notes", str(tmp_path / "out")]):
        proc = victim.cli(*args, unprivileged=True)
        assert proc.returncode == 0, (args, proc)
    loaded = victim.cli("show", "num", unprivileged=True)
    assert loaded.returncode == 0
    cache = tmp_path / "user-cache"  # where a Path artifact of a read-only repository is materialized
    load = victim.python("from artrepo import load_artifact; print(load_artifact('num'), "
                         "load_artifact('notes').read_text(), end='')", env={"XDG_CACHE_HOME": str(cache)},
                         unprivileged=True)
    assert load.returncode == 0 and load.stdout == "10 notes\n", load
    assert list((cache / "artrepo" / "paths").iterdir())


def test_writes_to_a_read_only_repository_fail_in_one_line(victim, read_only, tmp_path):
    (tmp_path / "more.txt").write_text("more\n")
    (tmp_path / "pipe.py").write_text(PIPELINE)
    for args in (["tag", "num", "t1"], ["register", str(tmp_path / "more.txt"), "--name", "more"],
                 ["alias", "num", "prod"], ["gc"], ["run", str(tmp_path / "pipe.py")], ["pull", "team"]):
        proc = victim.cli(*args, unprivileged=True)
        assert proc.refused(1) and ("read-only" in proc.stderr or "ermission" in proc.stderr), (args, proc)


def test_an_export_onto_a_full_disk_leaves_nothing(victim, repo_root, small_disk):
    victim.python("""
        import numpy as np
        from artrepo import save_artifact
        save_artifact(np.random.default_rng(1).random(2_000_000), "big")
    """)
    for dest in (small_disk / "big", small_disk / "big.zip"):
        proc = victim.cli("export", "big", str(dest))
        assert proc.refused(1) and "space" in proc.stderr, proc
        assert list(small_disk.iterdir()) == [], list(small_disk.iterdir())


def test_a_full_disk_inside_git_index_pack_is_said_to_be_one(forged, small_disk, victim_template, tmp_path):
    """ENOSPC while git's index-pack receives a pull is a full disk (exit 1), not an integrity error."""
    commit = forged.commit(forged.tree({"big.bin": forged.blob(os.urandom(2 << 20))}), "a large git object\n")
    forged.ship(commit)
    forged.set_ref("refs/artrepo/big", commit)
    victim = Victim(small_disk, victim_template)
    victim.project_with(FolderBucket(tmp_path / "remote"), forged)
    free = os.statvfs(small_disk)
    (small_disk / "filler").write_bytes(bytes(free.f_bavail * free.f_frsize - (512 << 10)))
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(1) and "no space left on device" in pulled.stderr, pulled
    (small_disk / "filler").unlink()
    victim.still_usable()
    assert victim.cli("pull", "evil").returncode == 0
