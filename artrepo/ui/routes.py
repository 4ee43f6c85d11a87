"""URL paths and the functions that answer them (every page is a GET)."""
from __future__ import annotations

import re

from artrepo.ui import content, lineage_view, pages, runpages

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
    (re.compile(r"/storage"), pages.storage_page),
]
