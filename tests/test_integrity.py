"""Damaged stores are named, never returned as data: IntegrityError, CLI exit 3."""
import numpy as np
import pytest

from artrepo import load_artifact, save_artifact
from artrepo.errors import IntegrityError
from artrepo_testing import git_fsck, run_cli


def saved_array(project):
    data = np.random.default_rng(0).random(300_000)
    av = save_artifact(data, "weights")
    from artrepo.client import active_repository

    chunks = active_repository().chunks
    (pack_id,) = {chunks.index.locations[cid][0] for cid in av.manifest().chunk_ids()}
    return av, chunks.pack_path(pack_id)


def test_a_flipped_byte_names_the_chunk_and_the_version(project):
    av, pack = saved_array(project)
    raw = bytearray(pack.read_bytes())
    raw[5000] ^= 1
    pack.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=r"weights:1 .*chunk [0-9a-f]{12}"):
        load_artifact("weights")
    proc = run_cli("export", "weights", str(project / "out.zip"))
    assert proc.returncode == 3 and "weights:1" in proc.stderr and "Traceback" not in proc.stderr
    git_fsck(project)


def test_a_truncated_pack_is_an_integrity_error(project):
    av, pack = saved_array(project)
    pack.write_bytes(pack.read_bytes()[:1000])
    with pytest.raises(IntegrityError, match="weights:1"):
        load_artifact("weights")


def test_a_missing_chunk_is_an_integrity_error_and_no_partial_data(project):
    av, pack = saved_array(project)
    pack.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        load_artifact("weights")


def test_other_versions_stay_usable_after_damage(project):
    save_artifact([1, 2, 3], "small")
    av, pack = saved_array(project)
    pack.unlink()
    assert load_artifact("small") == [1, 2, 3]
