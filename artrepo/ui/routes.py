"""URL paths and the functions that answer them (every page is a GET)."""
from __future__ import annotations

import re
from urllib.parse import unquote

from artrepo.ui import comparepages, content, lineage_view, pages, runpages
from artrepo.ui.dashboard import Dashboard, Response

_ID = r"([0-9a-f]{40})"
ROUTES = [
    (re.compile(r"/"), pages.artifacts_page),
    (re.compile(r"/artifacts"), pages.artifacts_page),
    (re.compile(r"/artifacts/([^/]+)"), pages.artifact_page),
    (re.compile(rf"/versions/{_ID}"), pages.version_page),
    (re.compile(rf"/versions/{_ID}/visualizations/(\d+)"), content.visualization_response),
    (re.compile(rf"/versions/{_ID}/download\.zip"), content.download_response),
    (re.compile(rf"/versions/{_ID}/lineage"), lineage_view.lineage_page),
    (re.compile(r"/runs"), runpages.runs_page),
    (re.compile(r"/runs/([0-9a-f]{4,64})"), runpages.run_page),
    (re.compile(r"/runs/([0-9a-f]{4,64})/code/([^/]+)"), comparepages.step_code_page),
    (re.compile(r"/runs/([0-9a-f]{4,64})/git-diff"), comparepages.git_diff_page),
    (re.compile(r"/compare"), comparepages.compare_page),
    (re.compile(r"/storage"), pages.storage_page),
]


def dispatch(dash: Dashboard, path: str, query: dict[str, str]) -> Response:
    """The page at `path`, built from a freshly refreshed catalog, one request at a time."""
    for pattern, page in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            with dash.lock:
                dash.catalog.refresh()
                return page(dash, query, *(unquote(g) for g in match.groups()))
    return dash.not_found(f"no page at {path}")
