"""Fixtures for dashboard tests: a sample repository built once, a live server on 127.0.0.1."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def sample_repo(tmp_path_factory) -> Path:
    """A project with two pipelines (one cached re-run, one failure) and visualized artifacts."""
    root = tmp_path_factory.mktemp("ui-sample")
    subprocess.run([sys.executable, "-m", "artrepo", "init", str(root)], check=True, capture_output=True)
    shutil.copy(HERE / "sample_pipeline.py", root / "sample_pipeline.py")
    proc = subprocess.run([sys.executable, "sample_pipeline.py", str(root)], cwd=root, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return root


@dataclass
class Served:
    url: str
    server: object

    def get(self, path: str, headers: dict | None = None):
        """(status, headers, body bytes); never raises on HTTP errors."""
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def page(self, path: str) -> str:
        status, _headers, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return body.decode()


def start_server(root: Path):
    from artrepo.ui.server import make_server, url_of

    server = make_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, url_of(server).rstrip("/")


def stop_server(server) -> None:
    server.shutdown()
    server.server_close()
    server.RequestHandlerClass.dashboard.close()


@pytest.fixture(scope="module")
def served(sample_repo):
    server, url = start_server(sample_repo)
    yield Served(url, server)
    stop_server(server)


@pytest.fixture
def serve():
    """Start a server on any repository root; stopped at the end of the test."""
    started = []

    def start(root: Path) -> Served:
        server, url = start_server(root)
        started.append(server)
        return Served(url, server)

    yield start
    for server in started:
        stop_server(server)


# -- a headless Chromium (Debian's package) driven by Playwright; one per session --------------------
@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda m: m.type == "error" and tab.problems.append(m.text))
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    tab.on("dialog", lambda d: (tab.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield tab
    context.close()
