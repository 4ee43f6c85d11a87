"""The compare page, the metadata chart, and the pages of a step's code and a run's uncommitted changes."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.ui.conftest import CHROMIUM, Served, start_server, stop_server

PIPE = textwrap.dedent('''
    import json, sys
    from artrepo import log_metadata, pipeline, save_artifact, step

    @step
    def prepare(n: int = 10) -> list:
        return list(range(n))

    @step
    def train(values: list, lr: float = 0.1) -> dict:
        log_metadata({"accuracy": 0.5 + lr}, infer_artifact=True)
        return {"weights": [v * lr for v in values]}

    @pipeline
    def training(n: int = 10, lr: float = 0.1):
        train(prepare(n=n), lr=lr)

    if __name__ == "__main__":
        if sys.argv[1] == "versions":
            for i, acc in enumerate([0.61, 0.74, 0.69]):
                save_artifact(list(range(i + 3)), "model", metadata={"accuracy": acc, "notes": f"<b>v{i}</b>"})
        else:
            print(training(lr=float(sys.argv[1])).id)
''')


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True,
                   capture_output=True)


def script(root: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "pipe.py", *args], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """(served, {run ids, version ids}): two runs of a pipeline whose code changed, three versions of a model."""
    root = tmp_path_factory.mktemp("ui-compare")
    git(root, "init", "-q", "-b", "main")
    (root / "pipe.py").write_text(PIPE)
    git(root, "add", "pipe.py")
    git(root, "commit", "-q", "-m", "pipeline")
    subprocess.run([sys.executable, "-m", "artrepo", "init", str(root)], check=True, capture_output=True)
    first = script(root, "0.1")
    (root / "pipe.py").write_text(PIPE.replace("v * lr", "v * lr * 2"))  # uncommitted
    second = script(root, "0.3")
    script(root, "versions")
    listing = subprocess.run([sys.executable, "-m", "artrepo", "log", "model", "--json"], cwd=root, check=True,
                             capture_output=True, text=True).stdout
    versions = [v["id"] for v in json.loads(listing)][::-1]  # oldest first
    server, url = start_server(root)
    yield Served(url, server), {"runs": [first, second], "versions": versions}
    stop_server(server)


def test_compare_two_runs_shows_parameters_git_steps_code_diff_and_outputs(compared):
    served, ids = compared
    first, second = ids["runs"]
    html = served.page(f"/compare?id={first}&id={second}")
    assert "Compare 2 runs" in html
    lr = re.search(r'<tr class="row changed">\s*<th>lr</th>\s*<td><span title="0.1">0.1</span>\s*</td>\s*'
                   r'<td><span title="0.3">0.3</span>\s*<span class="delta">\(\+0.2\)', html)
    assert lr, html[:3000]
    assert re.search(r"<th>dirty</th>\s*<td>false\s*</td>\s*<td>true\s*</td>", html)
    assert re.search(r"<th>prepare</th>\s*<td>completed\s*</td>\s*<td>cached\s*</td>", html)
    assert '<span class="del">-    return {&#34;weights&#34;: [v * lr for v in values]}</span>' in html
    assert '<span class="add">+    return {&#34;weights&#34;: [v * lr * 2 for v in values]}</span>' in html
    assert "training::train::output:2" in html and "Output metadata that differs" in html
    assert re.search(r"<th>accuracy</th><td>0.6</td><td>0.8</td>", html)
    only = served.page(f"/compare?id={first}&id={second}&only=changed")
    assert "<th>pipeline</th>" not in only and "<th>lr</th>" in only


def test_compare_versions_shows_metadata_side_by_side_and_bytes_shared(compared):
    served, ids = compared
    v1, v2, v3 = ids["versions"]
    html = served.page(f"/compare?id={v1}&id={v2}&id={v3}")
    assert "Compare 3 versions" in html
    assert re.search(r'<tr class="row changed">\s*<th>accuracy</th>\s*<td><span title="0.61">0.61</span>\s*</td>\s*'
                     r'<td><span title="0.74">0.74</span>', html)
    assert "&lt;b&gt;v0&lt;/b&gt;" in html and "<b>v0</b>" not in html  # metadata stays text
    assert html.count("bytes shared") == 1 and "baseline" in html


def test_compare_refuses_a_version_with_a_run_and_explains_an_empty_selection(compared):
    served, ids = compared
    status, _headers, body = served.get(f"/compare?id={ids['versions'][0]}&id={ids['runs'][0]}")
    assert status == 400 and b"not both" in body
    assert "Select two or more versions" in served.page(f"/compare?id={ids['versions'][0]}")
    status, _headers, body = served.get(f"/compare?id={ids['versions'][0]}&id={'0' * 40}")
    assert status == 404


def test_the_artifact_page_charts_a_numeric_metadata_key_across_versions(compared):
    served, ids = compared
    html = served.page("/artifacts/model")
    svg = re.search(r'<svg class="chart".*?</svg>', html, re.S).group(0)
    assert 'aria-label="accuracy across versions"' in svg
    points = re.findall(r'<a href="/versions/([0-9a-f]{40})" class="point"><title>model:(\d): accuracy = ([0-9.]+)',
                        svg)
    assert [(v, n, float(a)) for v, n, a in points] == [(ids["versions"][0], "1", 0.61), (ids["versions"][1], "2", 0.74),
                                                        (ids["versions"][2], "3", 0.69)]
    ys = [float(y) for y in re.findall(r'cy="([0-9.]+)"', svg)]
    assert ys[1] < ys[2] < ys[0]  # higher accuracy is drawn higher
    other = served.page("/artifacts/model?chart=storage_size")
    assert 'aria-label="storage_size across versions"' in other
    assert 'name="id" value="%s" form="compare"' % ids["versions"][0] in html


def test_run_page_shows_provenance_and_links_each_steps_code(compared):
    served, ids = compared
    second = ids["runs"][1]
    html = served.page(f"/runs/{second}")
    assert re.search(r'<dl class="facts" id="provenance">\s*<dt>Git</dt><dd><span class="mono">[0-9a-f]{40}</span> on '
                     r'<b>main</b>', html)
    assert f'href="/runs/{second}/git-diff">uncommitted changes</a>' in html
    assert f'<a class="code-link" href="/runs/{second}/code/train">code</a>' in html
    assert "Compare with the previous run" in html
    code = served.page(f"/runs/{second}/code/train")
    assert "def train(values: list, lr: float = 0.1) -&gt; dict:" in code and "v * lr * 2" in code
    diff = served.page(f"/runs/{second}/git-diff")
    assert '<span class="add">+    return {&#34;weights&#34;: [v * lr * 2 for v in values]}</span>' in diff
    status, _h, _b = served.get(f"/runs/{second}/code/nope")
    assert status == 404


pytestmark_browser = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")


@pytestmark_browser
def test_in_a_browser_ticked_versions_compare_and_the_chart_links_versions(compared, page, tmp_path):
    served, ids = compared
    page.goto(served.url + "/artifacts/model")
    circles = page.eval_on_selector_all("svg.chart .point circle", "els => els.map(e => e.getBBox().width)")
    assert circles == [8, 8, 8]  # drawn, with a size: the SVG rendered
    page.screenshot(path=str(tmp_path / "chart.png"), full_page=True)
    page.check(f"input[value='{ids['versions'][0]}']")
    page.check(f"input[value='{ids['versions'][2]}']")
    page.click("text=Compare selected")
    page.wait_for_url(re.compile(r"/compare\?id="))
    headers = page.eval_on_selector_all("table.compare thead th a", "els => els.map(e => e.textContent)")
    assert headers == ["model:1", "model:3"]
    assert page.locator("tr.row.changed th", has_text="accuracy").is_visible()
    page.click("text=Only what changed")
    assert page.locator("tbody.section-version th", has_text="materializer").count() == 0
    page.goto(served.url + "/artifacts/model")
    page.click("svg.chart a.point >> nth=1")
    page.wait_for_url(re.compile(rf"/versions/{ids['versions'][1]}$"))
    assert page.problems == []


@pytestmark_browser
def test_in_a_browser_ticked_runs_compare_with_their_code_diff(compared, page, tmp_path):
    served, ids = compared
    page.goto(served.url + "/runs")
    for run_id in ids["runs"]:
        page.check(f"input[value='{run_id}']")
    page.click("text=Compare selected")
    page.wait_for_url(re.compile(r"/compare\?id="))
    added = page.eval_on_selector_all("pre.diff span.add", "els => els.map(e => e.textContent)")
    assert added == ['+    return {"weights": [v * lr * 2 for v in values]}']
    colour = page.eval_on_selector("pre.diff span.add", "e => getComputedStyle(e).backgroundColor")
    assert colour != "rgba(0, 0, 0, 0)"  # the stylesheet applies (no inline style is allowed)
    page.screenshot(path=str(tmp_path / "compare-runs.png"), full_page=True)
    page.click("table.compare thead th a >> nth=1")
    page.click("a.code-link >> nth=1")
    assert "v * lr * 2" in page.locator("pre.code").inner_text()
    assert page.problems == []
