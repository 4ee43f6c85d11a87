"""Versions as refs: numbering, custom versions, aliases, annotations, concurrency, git compatibility."""
import json
import multiprocessing as mp
import subprocess
import sys

import numpy as np
import pytest

from artrepo import Client, load_artifact, save_artifact
from artrepo.errors import ConflictError, InvalidNameError, NotFoundError
from artrepo_testing import git_fsck, tree_snapshot


def test_auto_increment_versions_count_up_and_latest_is_newest(project):
    for i in range(3):
        assert save_artifact(i, "counter").version == str(i + 1)
    assert load_artifact("counter") == 2
    assert load_artifact("counter", version="1") == 0
    assert load_artifact("counter:2") == 1
    git_fsck(project)


def test_custom_version_is_used_once_and_numbers_skip_numeric_customs(project):
    save_artifact("untrained", "my_model", version="1")
    with pytest.raises(ConflictError, match="my_model:1"):
        save_artifact("again", "my_model", version="1")
    assert save_artifact("trained", "my_model").version == "2"
    assert save_artifact("x", "my_model", version="raw_2023").version == "raw_2023"
    assert save_artifact("y", "my_model").version == "3"


@pytest.mark.parametrize("bad", ["..", "a/b", "a\0b", "a b", "x@y", "a:b", "ünï", ".x", "-x", "", "n" * 129])
def test_invalid_names_write_nothing(project, bad):
    before = tree_snapshot(project / ".artrepo")
    with pytest.raises(InvalidNameError):
        save_artifact([1, 2], bad)
    with pytest.raises(InvalidNameError):
        save_artifact([1, 2], "fine", version=bad if bad else "..")
    assert tree_snapshot(project / ".artrepo") == before


def test_names_git_refuses_on_its_own_work(project):
    for name in ["x.lock", "a::b::c", "trailing.", "pipe::step::output"]:
        save_artifact(name, name)
        assert load_artifact(name) == name
    assert {a.name for a in Client().list_artifacts()} >= {"x.lock", "a::b::c", "trailing."}
    git_fsck(project)


def test_unknown_name_suggests_a_close_one(project):
    save_artifact(1, "iris_data")
    with pytest.raises(NotFoundError, match="did you mean 'iris_data'"):
        load_artifact("iris")
    with pytest.raises(NotFoundError):
        load_artifact("iris_data", version="7")


def test_id_prefix_resolves_and_content_hash_depends_only_on_data(project):
    a = save_artifact(np.arange(100), "a")
    b = save_artifact(np.arange(100), "b")
    assert a.id != b.id and a.content_hash == b.content_hash
    assert Client().get_artifact_version(a.id[:8]).name == "a"
    c = save_artifact(np.arange(101), "a")
    assert c.content_hash != a.content_hash


def test_alias_moves_and_keeps_history(project):
    from artrepo.client import active_repository

    v1 = save_artifact(1, "m")
    v2 = save_artifact(2, "m")
    repo = active_repository()
    repo.set_alias(repo.resolve("m:1"), "production")
    assert load_artifact("m@production") == 1
    repo.set_alias(repo.resolve("m:2"), "production")
    assert load_artifact("m@production") == 2
    assert [h[0] for h in repo.alias_history("m", "production")] == [v2.id, v1.id]


def test_tags_and_metadata_added_later_do_not_change_the_version(project):
    from artrepo.client import log_artifact_metadata

    v = save_artifact([1], "t", tags=["a"], metadata={"k": 1})
    Client().update_artifact_version("t", add_tags=["b"])
    log_artifact_metadata({"acc": 0.9, "group": {"x": 1}}, artifact_name="t")
    again = Client().get_artifact_version("t")
    assert again.id == v.id
    assert again.tags == ["a", "b"]
    assert again.run_metadata["acc"] == 0.9 and again.run_metadata["k"] == 1
    git_fsck(project)


def _writer(root, worker, count, queue):
    import os

    os.chdir(root)
    from artrepo import save_artifact

    got = []
    for i in range(count):
        av = save_artifact(f"{worker}-{i}", "shared")
        got.append((av.version, f"{worker}-{i}"))
    queue.put(got)


def test_four_processes_saving_one_name_get_distinct_numbers(project):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(project), w, 25, queue)) for w in range(4)]
    for p in procs:
        p.start()
    results = [item for _ in procs for item in queue.get(timeout=240)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    versions = sorted(int(v) for v, _ in results)
    assert versions == list(range(1, 101))
    from artrepo.client import active_repository

    repo = active_repository()
    for version, payload in results:
        assert load_artifact("shared", version=version) == payload
        assert repo.by_id(repo.resolve(f"shared:{version}").id).version == version  # racing saves, found by id
    git_fsck(project)


def test_a_version_found_by_id_knows_its_label_among_customs_deletions_and_clock_jumps(project):
    from artrepo.client import active_repository
    from artrepo.records.artifact import Manifest, VersionRecord

    repo = active_repository()
    blob = repo.write_manifest(Manifest(()))

    def save(i, version=None, created_ns=None):
        rec = VersionRecord(name="m", version=version, artifact_type="DataArtifact", materializer="builtin/v1",
                            data_type="builtins.int", content_hash=Manifest(()).content_hash, size=i,
                            created_ns=created_ns or 10**18 + i, tags=(), metadata={}, producer=None, origin="saved")
        return repo.save_version(rec, blob)

    saved = [save(i, version=f"custom{i}" if i % 4 == 0 else None) for i in range(20)]
    saved += [save(20 + i, created_ns=10**18 - i) for i in range(10)]  # a clock that went backwards
    Client().delete_artifact_version("m", saved[5].version)
    for info in saved[:5] + saved[6:]:
        assert repo.by_id(info.id).version == info.version
    with pytest.raises(NotFoundError, match="deleted"):
        repo.by_id(saved[5].id)


def test_stock_git_shows_the_history_of_a_name(project):
    for i in range(3):
        save_artifact(i, "hist")
    out = subprocess.run(["git", "--git-dir", ".artrepo", "log", "--format=%s", "refs/artrepo/heads/hist"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["artifact hist (auto-increment)"] * 3


def test_latest_survives_a_stale_heads_ref(project):
    from artrepo import names
    from artrepo.client import active_repository

    save_artifact("one", "h")
    v2 = save_artifact("two", "h")
    repo = active_repository()
    first = repo.resolve("h:1").id
    # as if the writer of version 2 died before moving heads
    repo.refs.update(f"refs/artrepo/heads/{names.encode('h')}", lambda cur: first, "rewind")
    assert load_artifact("h") == "two"
    assert save_artifact("three", "h").version == "3"
    assert load_artifact("h") == "three"


def test_visualizations_are_stored_with_the_version(project):
    from artrepo import VisualizationType
    from artrepo.materializers import BaseMaterializer

    class Report:
        pass

    class ReportMaterializer(BaseMaterializer):
        ASSOCIATED_TYPES = (Report,)
        SKIP_REGISTRATION = True

        def save(self, data):
            with self.open("r.txt", "wb") as f:
                f.write(b"report")

        def load(self, data_type):
            return Report()

        def save_visualizations(self, data):
            with self.open("visualizations/summary.html", "wb") as f:
                f.write(b"<h1>summary</h1>")
            return {"visualizations/summary.html": VisualizationType.HTML}

    av = save_artifact(Report(), "report", materializer=ReportMaterializer)
    assert av.visualizations == [("visualizations/summary.html", "html")]
    assert [f.path for f in av.manifest().files] == ["r.txt"]
    (path,) = av.visualize()
    assert path.read_text() == "<h1>summary</h1>"
