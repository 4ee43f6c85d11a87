"""fsck on a sound repository and on damage it must find without reading data; du's accounting of dedup
and compression."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from artrepo import save_artifact
from artrepo_testing import run_cli


def test_fsck_of_a_sound_repository_is_clean_and_counts_what_it_read(project):
    save_artifact(np.random.default_rng(0).random(300_000), "weights")
    save_artifact({"lr": 0.1}, "params")
    proc = run_cli("fsck", "--read-data")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checked 2 versions" in proc.stdout and "chunks read and verified: no problems" in proc.stdout


def test_du_reports_shared_unique_and_compression_savings(project):
    shared = np.random.default_rng(1).random(400_000)  # 3.2 MB, incompressible, saved under two names
    save_artifact(shared, "a")
    save_artifact(shared, "b")
    save_artifact(np.zeros(400_000), "zeros")  # compresses to almost nothing
    doc = json.loads(run_cli("du", "--json").stdout)
    by_name = {a["name"]: a for a in doc["artifacts"]}
    assert set(by_name) == {"a", "b", "zeros"}
    assert by_name["a"]["logical_bytes"] == by_name["b"]["logical_bytes"] > 3_200_000
    assert by_name["a"]["unique_bytes"] == 0 and by_name["a"]["shared_bytes"] > 3_200_000
    assert by_name["zeros"]["unique_bytes"] < 100_000 < by_name["zeros"]["logical_bytes"]
    assert doc["logical_bytes"] == sum(a["logical_bytes"] for a in doc["artifacts"])
    assert doc["dedup_saved_bytes"] >= 3_200_000 and doc["compression_saved_bytes"] > 100_000
    assert doc["stored_bytes"] < doc["logical_bytes"] / 2
    text = run_cli("du").stdout
    assert "a: 1 versions" in text and "total:" in text


# -- what fsck finds without --read-data, whatever the index's format --------------------------------------------
@pytest.fixture(params=["format 1", "format 2"])
def index_format(request, project, monkeypatch) -> str:
    """Each save's index file in this format (a repository writes format 2 from 4,096 rows: its merged files)."""
    monkeypatch.setenv("ARTREPO_AUTO_PACK", "0")  # one pack per save, as the damage below expects
    if request.param == "format 2":
        monkeypatch.setattr("artrepo.storage.chunkstore.SORTED_FROM", 1)
    return request.param


def _saved_pair(project, index_format: str):
    """The victim's and the bystander's pack files, after a clean fsck (which also fills fsck's cache)."""
    from artrepo.client import active_repository
    from artrepo.storage.sortedindex import is_sorted_index

    victim = save_artifact(np.random.default_rng(1).random(3_000), "victim")
    bystander = save_artifact(np.random.default_rng(2).random(3_000), "bystander")
    for f in (project / ".artrepo" / "chunks" / "index").iterdir():
        assert is_sorted_index(f.read_bytes()) == (index_format == "format 2")
    assert run_cli("fsck").returncode == 0
    chunks = active_repository().chunks
    return [chunks.pack_path(chunks.index.locations[next(iter(av.manifest().chunk_ids()))][0])
            for av in (victim, bystander)]


def _footer_start(pack: Path) -> int:
    raw = pack.read_bytes()
    return len(raw) - 12 - int.from_bytes(raw[-12:-8], "little")


def flip_a_chunk_id_in_the_footer(victim: Path, bystander: Path) -> None:
    raw = bytearray(victim.read_bytes())
    raw[_footer_start(victim) + 8] ^= 0x01  # inside the first row's chunk id
    victim.write_bytes(bytes(raw))


def drop_the_last_byte(victim: Path, bystander: Path) -> None:
    victim.write_bytes(victim.read_bytes()[:-1])


def replace_by_the_bystanders_pack(victim: Path, bystander: Path) -> None:
    victim.write_bytes(bystander.read_bytes())


@pytest.mark.parametrize("damage", [flip_a_chunk_id_in_the_footer, drop_the_last_byte, replace_by_the_bystanders_pack],
                         ids=lambda f: f.__name__)
def test_fsck_without_read_data_finds_a_damaged_pack_footer(project, index_format, damage):
    victim, bystander = _saved_pair(project, index_format)
    damage(victim, bystander)
    proc = run_cli("fsck")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"pack {victim.name[:12]}" in proc.stdout and "victim:1" in proc.stdout
    assert "bystander" not in proc.stdout


def test_fsck_reports_a_sorted_index_file_that_misplaces_a_packs_chunks(project, index_format):
    """A well-named format 2 file (anyone may write one) whose offsets for a pack are not the pack's: readers
    would read the wrong bytes, so fsck must say so even though the pack's own footer is sound."""
    from artrepo.storage.ids import file_name
    from artrepo.storage.packfile import PackEntry, decode_footer
    from artrepo.storage.sortedindex import encode_sorted

    victim, _ = _saved_pair(project, index_format)
    raw = victim.read_bytes()
    entries = decode_footer(raw, len(raw), "victim")
    moved = [PackEntry(e.chunk_id, e.codec, e.offset + 1, e.length, e.raw_length) for e in entries]
    data = encode_sorted({bytes.fromhex(victim.name): moved})
    (project / ".artrepo" / "chunks" / "index" / file_name(data)).write_bytes(data)
    proc = run_cli("fsck")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"chunks are not where it says in pack {victim.name[:12]}" in proc.stdout and "victim:1" in proc.stdout


def test_fsck_reports_a_damaged_git_commit_graph(project):
    """git fsck verifies the commit-graph (git gc writes one): fsck runs that verification beside it."""
    save_artifact({"lr": 0.1}, "params")
    save_artifact({"lr": 0.2}, "params")
    git = ["git", "--git-dir", str(project / ".artrepo")]
    subprocess.run([*git, "commit-graph", "write", "--reachable"], check=True, capture_output=True)
    assert run_cli("fsck").returncode == 0
    graph = project / ".artrepo" / "objects" / "info" / "commit-graph"
    raw = bytearray(graph.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    graph.chmod(0o644)
    graph.write_bytes(bytes(raw))
    proc = run_cli("fsck")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "commit-graph" in proc.stdout
