"""Page tests against the real dashboard server on 127.0.0.1 (no browser)."""
from __future__ import annotations

import html
import io
import re
import zipfile

from artrepo_testing import run_cli, tree_snapshot

VERSION_LINK = re.compile(r'href="/versions/([0-9a-f]{40})"')


def version_id(served, name: str) -> str:
    page = served.page(f"/artifacts/{name}")
    return VERSION_LINK.search(page).group(1)


def test_artifact_list_links_every_artifact(served):
    page = served.page("/")
    for name in ("iris", "weights", "report", "hostile", "files"):
        assert f'href="/artifacts/{name}"' in page


def test_artifact_list_searches_filters_and_sorts(served):
    assert 'href="/artifacts/weights"' in served.page("/artifacts?q=eigh")
    assert 'href="/artifacts/iris"' not in served.page("/artifacts?q=eigh")
    tagged = served.page("/artifacts?tag=prod")
    assert 'href="/artifacts/files"' in tagged and 'href="/artifacts/hostile"' in tagged
    assert 'href="/artifacts/iris"' not in tagged
    by_size = served.page("/artifacts?sort=size&order=desc")
    names = re.findall(r'<td><a href="/artifacts/([^"]+)">', by_size)
    assert names.index("iris") < names.index("hostile")  # 6.8 KiB before a few bytes
    assert names == list(reversed(re.findall(r'<td><a href="/artifacts/([^"]+)">',
                                             served.page("/artifacts?sort=size&order=asc"))))


def test_version_page_links_its_producing_run_and_step(served):
    vid = version_id(served, "weights")
    page = served.page(f"/versions/{vid}")
    run_id = re.search(r'id="producer">\s*step <a href="/runs/([0-9a-f]+)#step-train"', page).group(1)
    run = served.page(f"/runs/{run_id}")
    assert 'id="step-train"' in run and f"/versions/{vid}" in run
    assert re.search(rf'<li>\w+: <a href="/versions/{vid}">weights:\d+</a>', run)  # the output, by its label


def test_run_dag_shows_every_step_with_cached_and_failed_marked(served):
    runs = served.page("/runs")
    ids = re.findall(r'href="/runs/([0-9a-f]{40})"', runs)
    assert len(ids) == 3
    pages = [served.page(f"/runs/{i}") for i in ids]
    first, cached = [p for p in pages if "broken" not in p.split("<h1>")[1][:40]][::-1]
    failed = next(p for p in pages if "broken" in p.split("<h1>")[1][:40])
    for step in ("load_data", "train", "evaluate"):
        assert re.search(rf'class="node step completed" data-node="s:{step}"', first), step
        assert re.search(rf'class="node step cached" data-node="s:{step}"', cached), step
    assert re.search(r'class="node step failed" data-node="s:fragile"', failed)
    assert html.escape("bad <b>input</b>") in failed and "bad <b>input</b>" not in failed


def test_version_page_embeds_visualizations_safely(served):
    page = served.page(f"/versions/{version_id(served, 'iris')}")
    urls = re.findall(r'<img src="(/versions/[0-9a-f]{40}/visualizations/\d+)"', page)
    assert urls
    status, headers, body = served.get(urls[0])
    assert status == 200 and headers["Content-Type"] == "image/svg+xml" and body.startswith(b"<svg")  # histograms
    assert headers["Content-Security-Policy"].startswith("sandbox")  # so a script inside an SVG never runs
    frames = re.findall(r'<iframe src="([^"]+)" sandbox="([^"]*)"', page)
    assert frames and all("allow-same-origin" not in sandbox for _, sandbox in frames)
    _status, headers, body = served.get(frames[0][0])
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert b"Schema" in body and b"sepal" in body


def test_markdown_csv_and_json_visualizations_are_rendered_as_text(served):
    page = served.page(f"/versions/{version_id(served, 'report')}")
    assert "<h1>Scores</h1>" in page and "<td>accuracy</td>" in page
    assert "&lt;script&gt;window.__pwned=4&lt;/script&gt;" in page
    assert "&lt;b&gt;f1&lt;/b&gt;" in page and "<b>f1</b>" not in page
    assert "&#34;accuracy&#34;: 0.93" in page or '"accuracy": 0.93' in html.unescape(page)


def test_metadata_tags_and_names_are_escaped(served):
    page = served.page(f"/versions/{version_id(served, 'hostile')}")
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert html.escape("<script>window.__pwned=1</script>") in page
    assert "&lt;b&gt;key&lt;/b&gt;" in page
    listing = served.page("/artifacts")
    assert "<img src=x" not in listing


def test_every_page_sends_a_csp_without_inline_script(served):
    status, headers, _ = served.get("/runs")
    csp = headers["Content-Security-Policy"]
    assert status == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_lineage_page_walks_upstream_and_downstream(served):
    vid = version_id(served, "weights")
    both = served.page(f"/versions/{vid}/lineage")
    for step in ("load_data", "train", "evaluate"):
        assert re.search(rf'data-node="s:[0-9a-f]+:{step}"', both), step
    assert f'class="node artifact focus" data-node="v:{vid}"' in both
    up = served.page(f"/versions/{vid}/lineage?direction=upstream")
    assert re.search(r'data-node="s:[0-9a-f]+:load_data"', up)
    assert not re.search(r'data-node="s:[0-9a-f]+:evaluate"', up)


def test_download_streams_a_zip_of_the_version_files(served):
    status, headers, body = served.get(f"/versions/{version_id(served, 'files')}/download.zip")
    assert status == 200 and headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.read("dir/a.txt") == b"hello" and len(zf.read("dir/sub/b.bin")) == 2048


def test_path_listing_visualization_lists_files_with_sizes(served):
    page = served.page(f"/versions/{version_id(served, 'files')}")
    url = re.search(r'<iframe src="([^"]+)"', page).group(1)
    body = served.get(url)[2].decode()
    assert "a.txt" in body and "sub/b.bin" in body and "2.0 KiB" in body


def test_unknown_pages_versions_and_methods_are_refused(served):
    assert served.get("/versions/" + "0" * 40)[0] == 404
    assert served.get("/artifacts/nope")[0] == 404
    assert served.get("/runs/ffffffff")[0] == 404
    assert served.get("/static/../server.py")[0] == 404
    import urllib.request

    req = urllib.request.Request(served.url + "/", method="POST", data=b"x")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("POST was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 501


def test_requests_for_another_host_name_are_refused(served):
    status, _headers, _body = served.get("/", headers={"Host": "evil.example:80"})
    assert status == 421


def test_storage_view_reports_logical_and_stored_bytes(served):
    import time

    for _ in range(50):
        page = served.page("/storage")
        if "Logical size" in page:
            break
        time.sleep(0.1)
    assert "Logical size" in page and 'href="/artifacts/iris"' in page


def test_browsing_every_page_writes_nothing_to_the_repository(served, sample_repo):
    before = tree_snapshot(sample_repo / ".artrepo")
    pages = [served.page("/"), served.page("/runs"), served.page("/storage")]
    for link in set(re.findall(r'href="(/(?:artifacts|versions|runs)/[^"#]+)"', "".join(pages))):
        page = served.page(link)
        for sub in set(re.findall(r'(?:src|href)="(/versions/[0-9a-f]{40}/[^"]+)"', page)):
            served.get(sub)
    assert tree_snapshot(sample_repo / ".artrepo") == before


def test_new_versions_appear_without_restarting(project, serve):
    from artrepo import save_artifact

    save_artifact(1, name="first")
    served = serve(project)
    assert 'href="/artifacts/first"' in served.page("/")
    save_artifact(2, name="second")
    assert 'href="/artifacts/second"' in served.page("/")
    save_artifact(3, name="first")
    assert "2 versions" in served.page("/artifacts/first")
    from artrepo.client import add_tags

    add_tags(["late-tag"], artifact_name="first", artifact_version="1")
    assert "late-tag" in served.page("/artifacts/first")


def test_new_runs_appear_in_a_pipelines_list_and_link_the_run_before_them(project, serve):
    import uuid

    from artrepo.records.run import RunRecord
    from artrepo.repository import Repository

    repo = Repository(project)

    def run(pipeline: str, start: int) -> str:
        run_id = uuid.uuid4().hex
        repo.write_run(RunRecord(run_id=run_id, pipeline=pipeline, status="completed", start_ns=start,
                                 end_ns=start + 1), [])
        return run_id

    first = run("train", 10**18)
    served = serve(project)
    assert first in served.page("/runs?pipeline=train")
    other, second = run("other", 10**18 + 1), run("train", 10**18 + 2)
    listed = served.page("/runs?pipeline=train")
    assert first in listed and second in listed and other not in listed
    assert other in served.page("/runs?pipeline=other") and "No runs" in served.page("/runs?pipeline=nothing")
    assert f"/compare?id={first}&amp;id={second}" in served.page(f"/runs/{second}")  # the run before, same pipeline
    assert f"/compare?id={first}" not in served.page(f"/runs/{other}")
    repo.close()


def test_lists_are_paginated(project, serve):
    from artrepo import save_artifact

    for i in range(55):
        save_artifact(i, name=f"n{i:02d}")
    served = serve(project)
    first = served.page("/artifacts?sort=name&order=asc")
    assert "page 1 of 2" in first and 'href="/artifacts/n49"' in first and 'href="/artifacts/n50"' not in first
    second = served.page("/artifacts?sort=name&order=asc&page=2")
    assert 'href="/artifacts/n54"' in second and 'href="/artifacts/n00"' not in second


def test_ui_command_serves_until_interrupted(sample_repo):
    import signal
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "artrepo", "ui", "--port", "0"], cwd=sample_repo,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url + "runs", timeout=30) as resp:
            assert resp.status == 200 and b"training" in resp.read()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_ui_command_outside_a_repository_is_one_line_error(tmp_path):
    proc = run_cli("ui", "--port", "0", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "not an artrepo repository" in proc.stderr


def test_html_from_an_untrusted_remote_gets_no_script_at_all(project, serve):
    from artrepo import save_artifact
    from tests.ui.sample_pipeline import Report

    av = save_artifact({"a": 1}, name="pulled", materializer=Report)
    origins = project / ".artrepo" / "origins"
    origins.mkdir(exist_ok=True)
    (origins / av.id).write_text("stranger\n")  # what `pull` records for a version it fetched
    served = serve(project)
    page = served.page(f"/versions/{av.id}")
    assert "pulled from remote <b>stranger</b>" in page
    url, sandbox = re.search(r'<iframe src="([^"]+)" sandbox="([^"]*)"', page).groups()
    assert sandbox == ""
    csp = served.get(url)[1]["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "allow-scripts" not in csp and "script-src" not in csp
