"""The dashboard's index: kept outside the repository, read again only where the repository changed."""
from __future__ import annotations

import uuid

import pytest

from artrepo import save_artifact
from artrepo_testing import run_cli
from tests.ui.conftest import start_server, stop_server, Served


def serve_once(root, check) -> None:
    server, url = start_server(root)
    try:
        check(Served(url, server))
    finally:
        stop_server(server)


def write_run(repo, pipeline: str, start: int, inputs: dict | None = None) -> str:
    from artrepo.records.run import RunRecord, StepRecord

    run_id = uuid.uuid4().hex
    step = StepRecord(name="use", status="completed", cached=False, cache_key=uuid.uuid4().hex, code_hash="0" * 64,
                      parameters={}, inputs=inputs or {}, outputs={}, upstream=(), start_ns=start, end_ns=start + 1)
    repo.write_run(RunRecord(run_id=run_id, pipeline=pipeline, status="completed", steps=("use",), start_ns=start,
                             end_ns=start + 1), [step])
    return run_id


def test_a_restart_on_an_unchanged_repository_reads_no_record(project, monkeypatch):
    from artrepo.ui import index

    for i in range(3):
        save_artifact(i, f"n{i}")
    serve_once(project, lambda s: s.page("/"))
    monkeypatch.setattr(index.Index, "_version_row", lambda *a: pytest.fail("a record was read again"))
    monkeypatch.setattr(index.Index, "_add_run", lambda *a: pytest.fail("a run was read again"))
    serve_once(project, lambda s: [s.page("/"), s.page("/artifacts/n1")])


def test_what_changed_while_the_dashboard_was_stopped_shows_on_restart(project):
    from artrepo.client import Client, active_repository, add_tags

    kept = save_artifact(1, "kept")
    dropped = save_artifact(2, "dropped")
    save_artifact(3, "dropped")
    serve_once(project, lambda s: s.page("/"))
    repo = active_repository()
    new = save_artifact(4, "new")
    add_tags(["late-tag"], artifact_name="kept", artifact_version="1")
    Client().delete_artifact_version("dropped", "1")
    run_id = write_run(repo, "train", 10**18, {"data": kept.id})

    def check(s):
        listing = s.page("/")
        assert 'href="/artifacts/new"' in listing and "late-tag" in listing
        assert "1 versions" in s.page("/artifacts/dropped") and dropped.id not in s.page("/artifacts/dropped")
        assert s.get(f"/versions/{dropped.id}")[0] == 404 and new.id in s.page("/artifacts/new")
        assert run_id in s.page("/runs") and run_id in s.page(f"/versions/{kept.id}")  # read by the new run

    serve_once(project, check)  # the names whose heads moved are read again
    run_cli("gc", "--grace", "0", cwd=project, check=True)
    assert (project / ".artrepo" / "packed-refs").is_file()
    later = save_artifact(5, "later")
    Client().delete_artifact_version("new", "1")

    def check_after_packing(s):
        assert s.get("/artifacts/new")[0] == 404 and later.id in s.page("/artifacts/later")
        assert "late-tag" in s.page("/") and run_id in s.page(f"/versions/{kept.id}")

    serve_once(project, check_after_packing)  # packed-refs rewritten: every ref is looked at again


def test_an_index_that_does_not_read_is_made_again(project):
    from artrepo.ui.index import index_path
    from artrepo.client import active_repository

    save_artifact(1, "one")
    serve_once(project, lambda s: s.page("/"))
    path = index_path(active_repository().git_dir)
    path.write_bytes(b"not a database" * 100)
    serve_once(project, lambda s: s.page("/artifacts/one"))
    assert path.read_bytes()[:15] == b"SQLite format 3"


def test_without_a_writable_cache_folder_the_index_is_kept_in_memory(project, monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    monkeypatch.setenv("ARTREPO_UI_INDEX", str(blocked / "ui"))
    save_artifact(1, "one")
    serve_once(project, lambda s: s.page("/artifacts/one"))


def test_search_finds_names_by_any_part_whatever_the_index(project, serve):
    for name in ("train_images", "test_images", "labels", "img"):
        save_artifact(1, name)
    served = serve(project)
    for text, found in (("images", {"train_images", "test_images"}), ("IMAG", {"train_images", "test_images"}),
                        ("im", {"train_images", "test_images", "img"}), ("ain_im", {"train_images"}),
                        ('"', set()), ("nothing", set())):
        page = served.page(f"/artifacts?q={text}")
        shown = {n for n in ("train_images", "test_images", "labels", "img") if f'href="/artifacts/{n}"' in page}
        assert shown == found, text
    save_artifact(2, "more_images")  # a search kept from before is not answered again
    assert 'href="/artifacts/more_images"' in served.page("/artifacts?q=images")


def test_tags_filter_names_and_versions_and_follow_later_tagging(project, serve):
    from artrepo.client import add_tags

    for i in range(3):
        save_artifact(i, "model", tags=["nightly"] if i != 1 else [])
    save_artifact(1, "other")
    served = serve(project)
    assert 'href="/artifacts/other"' not in served.page("/artifacts?tag=nightly")
    versions = served.page("/artifacts/model?tag=nightly")
    assert ">1</a>" in versions and ">3</a>" in versions and ">2</a>" not in versions
    add_tags(["nightly"], artifact_name="other", artifact_version="1")
    assert 'href="/artifacts/other"' in served.page("/artifacts?tag=nightly")
