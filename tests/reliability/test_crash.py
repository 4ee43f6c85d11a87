"""SIGKILL of a saving process at random points: the repository stays valid, nothing half-published."""
from __future__ import annotations

import random
import time

import numpy as np
import pytest

from artrepo import load_artifact, save_artifact
from helpers import assert_repository_sound, kill_at_random, payload, python_child, version_ids

SIZE = 1_500_000  # 12 MB of float64: several packs, so kills land inside chunking, pack writes and publishing

SAVER = """
import time, numpy as np
from artrepo import save_artifact
data = np.random.default_rng({seed}).random({size})
open("ready-{seed}", "w").close()
save_artifact(data, "model")
"""


def _trial(project, seed: int, rng: random.Random, full: float) -> None:
    before = version_ids(project, "model")
    kill_at_random(python_child(SAVER.format(seed=seed, size=SIZE), project), project / f"ready-{seed}", rng, full)
    after = version_ids(project, "model")
    assert set(before) <= set(after) and len(after) - len(before) in (0, 1)
    from artrepo import repository

    repository._OPEN.clear()
    latest = load_artifact("model")
    new = set(after) - set(before)
    expected = payload(seed, SIZE) if new else load_artifact("model", version=max(before, key=int))
    assert np.array_equal(latest, expected)  # the old or the new version, bit-exact
    for label in new:
        assert np.array_equal(load_artifact("model", version=label), payload(seed, SIZE))


def _run_trials(project, trials: int) -> None:
    save_artifact(payload(0, SIZE), "model")
    rng = random.Random(1234)
    start = time.monotonic()
    done = python_child(SAVER.format(seed=1, size=SIZE), project)
    assert done.wait(120) == 0
    full = time.monotonic() - start
    for seed in range(2, 2 + trials):
        _trial(project, seed, rng, full)
    assert_repository_sound(project)
    for label, oid in version_ids(project, "model").items():  # every surviving version: bit-exact
        data = load_artifact("model", version=label)
        assert any(np.array_equal(data, payload(s, SIZE)) for s in range(0, 2 + trials))


def test_sigkill_while_saving_leaves_old_or_new_version(project):
    _run_trials(project, trials=3)


@pytest.mark.long
def test_sigkill_while_saving_30_trials(project):
    _run_trials(project, trials=30)
