"""fsck on a sound repository, and du's accounting of dedup and compression."""
from __future__ import annotations

import json

import numpy as np

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
