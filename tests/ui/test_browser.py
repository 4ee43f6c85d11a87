"""End-to-end: headless Chromium (Debian's package) driven by Playwright against the live server."""
from __future__ import annotations

import re

import pytest

from tests.ui.conftest import CHROMIUM

VERSION_URL = re.compile(r"/versions/[0-9a-f]{40}$")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt install chromium)")


def images_loaded(page) -> list[int]:
    return page.eval_on_selector_all("figure.vis img", "els => els.map(e => e.complete ? e.naturalWidth : 0)")


def test_artifact_to_version_to_run_to_lineage(served, page, tmp_path):
    page.goto(served.url + "/")
    page.click("text=iris")
    page.click("table.list tbody a >> nth=0")  # the newest version
    page.wait_for_url(VERSION_URL)
    page.wait_for_load_state("load")
    for img in page.query_selector_all("figure.vis img"):
        img.scroll_into_view_if_needed()
    page.wait_for_function("Array.from(document.querySelectorAll('figure.vis img')).every(i => i.complete)")
    widths = images_loaded(page)
    assert widths and all(w > 100 for w in widths), widths  # the histogram SVG and thumbnails decoded
    frame = page.frame_locator("figure.vis iframe").first
    assert frame.locator("h2", has_text="Schema").is_visible()

    page.click("#producer a >> nth=1")  # the run link
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{40}$"))
    page.wait_for_load_state("load")
    steps = page.eval_on_selector_all("svg.dag .node.step", "els => els.map(e => e.dataset.node)")
    assert sorted(steps) == ["s:evaluate", "s:load_data", "s:train"]
    assert page.eval_on_selector_all("svg.dag .edge", "els => els.length") >= 5
    page.hover("svg.dag .node.step[data-node='s:train']")
    assert page.eval_on_selector_all("svg.dag .edge.lit", "els => els.length") == 2  # script enhances
    page.screenshot(path=str(tmp_path / "run-dag.png"), full_page=True)

    page.click("svg.dag a.node.artifact >> nth=0")
    page.click("text=Lineage >> nth=0")
    page.wait_for_url("**/lineage")
    labels = page.eval_on_selector_all("svg.dag .node text", "els => els.map(e => e.textContent)")
    assert {"load_data", "train", "evaluate"} <= set(labels)
    page.screenshot(path=str(tmp_path / "lineage.png"), full_page=True)
    assert (tmp_path / "run-dag.png").stat().st_size > 10_000
    assert page.problems == []


def test_script_in_metadata_tags_and_visualizations_never_runs(served, page):
    page.goto(served.url + "/artifacts/hostile")
    page.click("table.list tbody a >> nth=0")
    page.wait_for_url(VERSION_URL)
    page.wait_for_load_state("load")
    assert page.locator("table.kv").inner_text().count("<script>window.__pwned=1</script>") == 1
    assert page.evaluate("window.__pwned") is None
    page.goto(served.url + "/artifacts/report")
    page.click("table.list tbody a >> nth=0")
    page.wait_for_url(VERSION_URL)  # click() returns before the next document is committed
    page.wait_for_load_state("load")
    title = page.title()
    assert title.startswith("report:")
    frame_el = page.locator("figure.vis-html iframe")
    frame_el.scroll_into_view_if_needed()
    frame = page.frame_locator("figure.vis-html iframe")
    assert frame.locator("#inside").inner_text() == "inside the sandbox"
    assert frame.locator("body[data-ran=yes]").count() == 1  # it ran, in its own opaque origin
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None and page.title() == title
    assert "raw html stays text" in page.locator(".markdown").inner_text()
    assert page.problems == [], page.problems


def test_pages_work_without_javascript(served, browser):
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    try:
        tab.goto(served.url + "/artifacts")
        tab.select_option("select[name=tag]", "prod")
        tab.click("form.filters button")
        tab.wait_for_url("**tag=prod*")
        names = tab.eval_on_selector_all("table.list tbody tr td:first-child a", "els => els.map(e => e.textContent)")
        assert sorted(names) == ["files", "hostile"]
        tab.goto(served.url + "/runs")
        tab.click("table.list tbody a.mono >> nth=0")
        assert tab.locator("svg.dag .node").count() >= 3  # the DAG is drawn by the server
    finally:
        context.close()
