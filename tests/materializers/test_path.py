"""register_artifact: files and folders, symlinks never followed, read-only copies."""
import os
import stat

import pytest

from artrepo import Client, load_artifact, register_artifact
from artrepo.errors import UserError
from artrepo_testing import git_fsck, run_cli


def make_tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    tool = root / "run.sh"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    os.symlink("a.txt", root / "link-inside")


def test_a_folder_loads_as_a_read_only_copy(project, tmp_path):
    src = tmp_path / "ckpt"
    make_tree(src)
    av = register_artifact(src, "checkpoints", metadata={"epochs": 3})
    path = load_artifact("checkpoints")
    assert (path / "a.txt").read_text() == "alpha"
    assert (path / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert os.readlink(path / "link-inside") == "a.txt"
    assert os.stat(path / "run.sh").st_mode & stat.S_IXUSR
    assert not os.stat(path / "a.txt").st_mode & stat.S_IWUSR
    assert av.run_metadata["epochs"] == 3 and av.record.origin == "registered"
    git_fsck(project)


def test_a_single_file_loads_as_its_path(project, tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"weights")
    register_artifact(f, "model_file")
    assert load_artifact("model_file").read_bytes() == b"weights"
    assert load_artifact("model_file").name == "model.bin"


@pytest.mark.timeout(30)
def test_a_symlink_pointing_outside_is_refused_and_its_target_never_read(project, tmp_path):
    secret = tmp_path / "secret"
    os.mkfifo(secret)  # opening it to read would block: the test would time out
    src = tmp_path / "data"
    src.mkdir()
    (src / "ok.txt").write_text("ok")
    os.symlink(secret, src / "leak")
    os.symlink("../secret", src / "leak2")
    with pytest.raises(UserError, match="outside"):
        register_artifact(src, "data")
    assert Client().list_artifacts() == []


def test_special_files_are_refused_by_name(project, tmp_path):
    src = tmp_path / "withfifo"
    src.mkdir()
    os.mkfifo(src / "pipe")
    with pytest.raises(UserError, match="pipe"):
        register_artifact(src, "fifo")


def test_cli_register_and_export(project, tmp_path):
    src = tmp_path / "exp"
    make_tree(src)
    proc = run_cli("register", str(src), "--name", "exp", "--tag", "raw", check=True)
    assert "registered exp:1" in proc.stdout
    run_cli("export", "exp", str(tmp_path / "out"), check=True)
    assert (tmp_path / "out" / "dir" / "a.txt").read_text() == "alpha"
    run_cli("export", "exp:1", str(tmp_path / "out.zip"), check=True)
    import zipfile

    assert "dir/sub/b.bin" in zipfile.ZipFile(tmp_path / "out.zip").namelist()
    bad = run_cli("export", "exp", str(tmp_path / "out"))
    assert bad.returncode == 1 and "not an empty folder" in bad.stderr
