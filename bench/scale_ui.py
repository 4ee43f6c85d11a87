"""The dashboard part of bench_scale.py: `artrepo ui` on a small and a large repository, every page timed.

    from scale_ui import measure_dashboard
    small, large = measure_dashboard(small_repo, large_repo)   # {figure: seconds} each

Each repository gets its own `artrepo ui --port 0` process (it listens on
127.0.0.1 only, on a port the kernel picks; the URL is read from its first
line on stderr). Its start is the time from launching the process until `/`
answers: once with no index (the dashboard reads every record into its
SQLite index, kept in a folder of this benchmark), then the median of
START_REPEAT launches on the index it kept, small and large alternating. Every
page the dashboard serves (artrepo/ui/routes.py) is then fetched once to warm
it and PAGE_REPEAT more times, the two servers alternating request by request
so that a load spike on the shared machine hits both sizes alike; a figure is
the median. A page that does not answer 200 stops the benchmark.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PY = sys.executable
START_REPEAT = 3
PAGE_REPEAT = 15

# A child that names what the pages are about: printed as JSON (setup, not timed).
SUBJECTS = """
import itertools, json
from pathlib import Path
from artrepo.gitdb import layout
from artrepo.repository import Repository

repo = Repository(Path("."))
out = {}
names = sorted(repo.names())
name = "metric00000" if "metric00000" in names else max(names, key=lambda n: len(repo.version_refs(n)))
refs = sorted(repo.version_refs(name).items(), key=lambda kv: repo.record(kv[1]).created_ns)
out["name"], out["version"], out["older"] = name, refs[-1][1], refs[-2][1] if len(refs) > 1 else refs[-1][1]
ids = {c: r for r, c in repo.run_ids().items()}
if ids:
    head = repo.refs.get(layout.RUNS_HEAD, derived=True)
    commits = [c for c, _t in itertools.islice(repo.walk_runs([head]), len(ids) // 2 + 1)]
    middle = commits[-1]  # a run in the middle of the list: a page that scans runs pays for half of them
    run = repo.read_run(middle)
    out["run"], out["pipeline"], out["step"] = ids[middle], run.pipeline, run.steps[-1]
    out["previous_run"] = ids[commits[-2]] if len(commits) > 1 else ids[middle]
    step = repo.read_step(middle, run.steps[-1])
    out["output"] = next(iter(step.outputs.values()))
    out["output_name"] = repo.record(out["output"]).name
print(json.dumps(out))
"""


def subjects(repo: Path) -> dict:
    out = subprocess.run([PY, "-c", SUBJECTS], cwd=repo, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"in {repo}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def pages(s: dict) -> dict[str, str]:
    """{figure: path} of every page the dashboard serves, about the subjects `s` of one repository."""
    q = urllib.parse.quote
    v, name = s["version"], s["name"]
    out = {
        "ui /  (artifacts, first page)": "/",
        "ui /artifacts?page=2": "/artifacts?page=2",
        "ui /artifacts?q=  (search by name)": f"/artifacts?q={q(name[:-2])}",
        "ui /artifacts?sort=name&order=asc": "/artifacts?sort=name&order=asc",
        "ui /artifacts/NAME": f"/artifacts/{q(name, safe='')}",
        "ui /versions/ID": f"/versions/{v}",
        "ui /versions/ID/lineage": f"/versions/{v}/lineage",
        "ui /versions/ID/download.zip": f"/versions/{v}/download.zip",
        "ui /compare?id=V&id=V": f"/compare?id={s['older']}&id={v}",
        "ui /runs": "/runs",
    }
    if "run" in s:
        run, out_v = s["run"], s["output"]
        out.update({
            "ui /runs?page=2": "/runs?page=2",
            "ui /runs?pipeline=P": f"/runs?pipeline={q(s['pipeline'])}",
            "ui /runs/ID  (a run in the middle)": f"/runs/{run}",
            "ui /runs/ID/code/STEP": f"/runs/{run}/code/{q(s['step'], safe='')}",
            "ui /runs/ID/git-diff": f"/runs/{run}/git-diff",
            "ui /compare?id=RUN&id=RUN": f"/compare?id={s['previous_run']}&id={run}",
            "ui /artifacts/NAME  (a step's output)": f"/artifacts/{q(s['output_name'], safe='')}",
            "ui /versions/ID  (a step's output)": f"/versions/{out_v}",
            "ui /versions/ID/lineage  (a step's output)": f"/versions/{out_v}/lineage",
        })
    out["ui /storage"] = "/storage"  # last: its first fetch starts a count in the server's background
    return out


class Server:
    """`artrepo ui --port 0` in `repo`, until `stop`."""

    def __init__(self, repo: Path):
        started = time.perf_counter()
        self.proc = subprocess.Popen([PY, "-m", "artrepo", "ui", "--port", "0"], cwd=repo,
                                     env={**os.environ, "ARTREPO_UI_INDEX": str(index_folder())},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        found = re.search(r" at (http://127\.0\.0\.1:\d+)/", line)
        if not found:
            self.stop()
            raise SystemExit(f"artrepo ui in {repo} said: {line.strip()} {self.proc.stderr.read()[:500]}")
        self.url = found.group(1)
        fetch(self.url + "/")
        self.start_seconds = time.perf_counter() - started

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fetch(url: str) -> float:
    """Seconds to fetch `url` whole; anything but 200 stops the benchmark."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=300) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{url}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
    return time.perf_counter() - started


def index_folder() -> Path:
    return Path(os.environ.get("BENCH_SCRATCH", "/tmp/artrepo-bench")) / "scale" / "ui-index"


def start_times(small: Path, large: Path) -> tuple[dict[str, float], dict[str, float]]:
    shutil.rmtree(index_folder(), ignore_errors=True)
    first = {}
    for repo in (small, large):
        server = Server(repo)
        server.stop()
        first[repo] = server.start_seconds
    times: dict[Path, list[float]] = {small: [], large: []}
    for _ in range(START_REPEAT):
        for repo in (small, large):
            server = Server(repo)
            server.stop()
            times[repo].append(server.start_seconds)
    return tuple({"artrepo ui: first start (builds its index) until / answers": first[repo],
                  "artrepo ui: start until / answers": statistics.median(times[repo])} for repo in (small, large))


def measure_dashboard(small: Path, large: Path) -> tuple[dict[str, float], dict[str, float]]:
    """({figure: seconds} at the small size, the same at the large one)."""
    out_small, out_large = start_times(small, large)
    servers = [Server(small), Server(large)]
    try:
        paths = [pages(subjects(small)), pages(subjects(large))]
        for figure in paths[0]:
            urls = [srv.url + p[figure] for srv, p in zip(servers, paths)]
            for url in urls:
                fetch(url)  # warm: graph layouts, the storage count started
            times: list[list[float]] = [[], []]
            for _ in range(PAGE_REPEAT):
                for i, url in enumerate(urls):
                    times[i].append(fetch(url))
            out_small[figure], out_large[figure] = statistics.median(times[0]), statistics.median(times[1])
    finally:
        for srv in servers:
            srv.stop()
    return out_small, out_large
