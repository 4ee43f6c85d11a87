"""Issue 14, wrong results presented as right: cache poisoning (3), a lying index (4), codec 7 (5),
half zips (6), annotations on someone else's version (7)."""
from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile

import pytest

from forgery import Forgery, canonical, read_objects
from harness import PIPELINE, dashboard_home, server_url
from recipes import annotate, forge_codec_7, forge_lying_index, forge_poisoned_cache


# -- item 3: cache poisoning ------------------------------------------------------------
def test_a_forged_cache_entry_never_replaces_the_victims_own_result(forged, bucket, victim, tmp_path):
    forge_poisoned_cache(forged)
    forged.write_to(bucket)
    assert victim.clone(bucket).returncode == 0
    (victim.root / "pipe.py").write_text(PIPELINE)
    report = tmp_path / "report.txt"
    run = victim.cli("run", "pipe.py", "--explain", env={"REPORT": str(report)})
    assert run.returncode == 0, run
    assert report.read_text() == "10", run.stdout
    assert "trust" in run.stdout, run.stdout


# -- items 4 and 5: what the index and pack headers claim ------------------------------
def test_pull_refuses_a_version_whose_index_lies(forged, bucket, victim):
    forge_lying_index(forged)
    victim.project_with(bucket, forged)
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(3) and "lie" in pulled.stderr, pulled
    fsck = victim.cli("fsck", "--read-data")
    assert victim.cli("show", "lie").returncode == 1 or (fsck.returncode == 3 and "lie:1" in fsck.stdout)
    victim.still_usable()


def test_a_metadata_only_pull_of_a_lying_index_is_reported_not_hidden(forged, bucket, victim, tmp_path):
    forge_lying_index(forged)
    victim.project_with(bucket, forged)
    assert victim.cli("pull", "--metadata-only", "evil").returncode == 0
    export = victim.cli("export", "lie", str(tmp_path / "out"))
    assert export.refused(3) and "lie:1" in export.stderr, export
    fsck = victim.cli("fsck", "--read-data")
    assert fsck.refused(3) and "lie:1" in fsck.stdout, fsck
    victim.still_usable()


def test_an_unknown_codec_is_refused_by_pull_and_remote_fsck(forged, bucket, victim):
    forge_codec_7(forged)
    victim.project_with(bucket, forged)
    remote = victim.cli("fsck", "--remote", "evil", "--read-data")
    assert remote.refused(3) and "seven:1" in remote.stdout and "codec" in remote.stdout, remote
    pulled = victim.cli("pull", "evil")
    assert pulled.refused(3) and "codec" in pulled.stderr and "seven:1" in pulled.stderr, pulled
    assert victim.cli("show", "seven").returncode == 1 and victim.cli("show", "num").returncode == 0
    victim.still_usable()
    # however it got here (planted), local reads and fsck refuse it too
    forged.plant(victim.root, {"refs/artrepo/v/seven/1": forged.table["refs"]["refs/artrepo/v/seven/1"]})
    local = victim.cli("fsck", "--read-data")
    assert local.refused(3) and "seven:1" in local.stdout and "codec" in local.stdout, local
    export = victim.cli("export", "seven", str(victim.home / "out"))
    assert export.refused(3) and "seven:1" in export.stderr, export


# -- item 6: half zips ---------------------------------------------------------------
@pytest.fixture
def half_readable(victim, tmp_path):
    """`both:1` whose first file reads and whose second file's pack is gone (`first:1` holds the first)."""
    victim.cli("init", str(victim.root), cwd=victim.home)
    folder = tmp_path / "both"
    folder.mkdir()
    (folder / "a-kept.bin").write_bytes(os.urandom(40_000))
    (folder / "b-lost.bin").write_bytes(os.urandom(40_000))
    made = victim.python(f"""
        from pathlib import Path
        from artrepo import register_artifact
        register_artifact("{folder}/a-kept.bin", "first")
        packs = set(Path(".artrepo/chunks/packs").rglob("*/*"))
        register_artifact("{folder}", "both")
        print(*(set(Path(".artrepo/chunks/packs").rglob("*/*")) - packs))
    """)
    (new,) = made.stdout.split()
    (victim.root / new).unlink()
    return folder


def test_a_failed_zip_export_leaves_nothing(victim, half_readable, tmp_path):
    out = tmp_path / "exports" / "both.zip"
    proc = victim.cli("export", "both", str(out))
    assert proc.refused(3) and "both:1" in proc.stderr, proc
    assert not out.exists() and list(out.parent.iterdir()) == []
    folder = tmp_path / "exports" / "both"
    proc = victim.cli("export", "both", str(folder))
    assert proc.refused(3) and not folder.exists() and list(out.parent.iterdir()) == []
    loaded = victim.python("""
        from artrepo import Client
        try:
            Client().get_artifact_version("both").download_files("api.zip")
        except Exception as exc:
            print(type(exc).__name__)
    """)
    assert loaded.stdout.strip() == "IntegrityError" and not (victim.root / "api.zip").exists(), loaded
    assert [p.name for p in victim.root.iterdir()] == [".artrepo"]


def test_export_never_overwrites_an_existing_zip(victim, half_readable, tmp_path):
    existing = tmp_path / "keep.zip"
    existing.write_bytes(b"my own archive")
    proc = victim.cli("export", "first", str(existing))
    assert proc.refused(1) and "exists" in proc.stderr, proc
    assert existing.read_bytes() == b"my own archive"
    good = tmp_path / "first.zip"
    assert victim.cli("export", "first", str(good)).returncode == 0
    with zipfile.ZipFile(good) as zf:
        assert zf.namelist() == ["file/a-kept.bin"] and zf.testzip() is None


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.status, resp.read()


def test_the_dashboards_zip_of_an_unreadable_version_is_an_aborted_download(victim, half_readable):
    info = victim.cli("show", "both", "--json")
    version = re.search(r'"id": "([0-9a-f]{40})"', info.stdout).group(1)
    proc = subprocess.Popen([sys.executable, "-m", "artrepo", "ui", "--port", "0"], cwd=victim.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base, said = server_url(proc)
        assert base is not None, said
        try:
            status, body = _get(f"{base}versions/{version}/download.zip")
        except (http.client.IncompleteRead, ConnectionError, urllib.error.HTTPError):
            return  # what a browser sees as a failed download
        assert status != 200, "a truncated zip was served as a complete download"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


# -- item 7: annotations on someone else's version -------------------------------------
@pytest.fixture
def shared(bucket, victim, tmp_path):
    """The victim's own `mine:1`, pushed to the shared bucket; the attacker reads the bucket back."""
    victim.project_with(bucket, name="origin")
    assert victim.cli("push", "origin").returncode == 0
    forged = Forgery(read_objects(bucket), tmp_path / "attacker.git")
    version = forged.table["refs"]["refs/artrepo/v/mine/1"]
    return forged, version


def test_a_teammates_annotation_cannot_override_metadata_forever(shared, bucket, victim):
    forged, version = shared
    annotate(forged, version, canonical({"kind": "annotation", "schema": 1, "version_id": version, "tags": [],
                                         "metadata": {"owner": "mallory"}, "created_ns": 2**63 - 1}))
    forged.write_to(bucket)
    assert victim.cli("pull", "origin").returncode == 0
    victim.python("""
        from artrepo import log_artifact_metadata
        log_artifact_metadata({"owner": "victim"}, artifact_name="mine")
    """)
    shown = victim.cli("show", "mine", "--json")
    assert '"owner": "victim"' in shown.stdout, shown.stdout
    # applied in order of arrival here, each with where it came from
    assert [a["origin"] for a in json.loads(shown.stdout)["annotations"]] == ["origin", None], shown.stdout
    assert "1 from remote origin" in victim.cli("show", "mine").stdout


def test_an_unreadable_annotation_is_skipped_not_fatal(shared, bucket, victim):
    forged, version = shared
    annotate(forged, version, b"\xc1 not msgpack at all")
    forged.write_to(bucket)
    victim.cli("pull", "origin")
    for args in (["log", "mine"], ["show", "mine"], ["list"]):
        proc = victim.cli(*args)
        assert proc.returncode == 0 and "mine" in proc.stdout, proc
    assert "warning: skipped an unreadable annotation" in victim.cli("show", "mine").stderr
    assert dashboard_home(victim.root) == 200
    fsck = victim.cli("fsck")
    assert fsck.refused(3) and "readers skip it" in fsck.stdout, fsck
