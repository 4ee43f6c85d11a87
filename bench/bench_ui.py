"""Dashboard latency on a big repository: 10,000 artifact versions and 1,000 runs.

    .venv/bin/python bench/bench_ui.py [--rebuild]

The fixture is built once into $BENCH_SCRATCH/ui-10k (default /tmp/artrepo-bench)
and reused: versions are written straight through `Repository.save_version` with
one shared manifest (no materializer, ~1 ms each), runs through `Repository.write_run`.
3,000 versions are pipeline outputs (1,000 runs x 3 steps, with producers and
inputs, so lineage and DAG pages have real graphs); 7,000 are plain saves.

Each page is fetched over HTTP from the real server: the first fetch (graph
layouts not yet cached) and the slowest of REPEAT fetches after it. Baseline, same process: the static
stylesheet (pure HTTP overhead), and listing every version through the
public API (`Client().list_artifact_versions()`), which is what a page built
without the dashboard's index would pay.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PLAIN_NAMES, PLAIN_VERSIONS = 1400, 5
RUNS = 1000
REPEAT = 5
BUDGET_MS = 300


def fixture_root() -> Path:
    return Path(os.environ.get("BENCH_SCRATCH", "/tmp/artrepo-bench")) / "ui-10k"


def build(root: Path) -> None:
    import shutil
    import uuid

    from artrepo.records.artifact import Manifest, VersionRecord
    from artrepo.records.run import RunRecord, StepRecord
    from artrepo.repository import Repository

    shutil.rmtree(root, ignore_errors=True)
    repo = Repository.init(root)
    manifest = Manifest(())
    blob = repo.write_manifest(manifest)
    now = time.time_ns() - 10**12

    def save(name, i, producer=None, tags=()):
        rec = VersionRecord(name=name, version=None, artifact_type="DataArtifact", materializer="builtin/v1",
                            data_type="builtins.int", content_hash=manifest.content_hash, size=1000 + i,
                            created_ns=now + i * 1000, tags=tags, metadata={"i": i, "note": "<script>x</script>"},
                            producer=producer, origin="pipeline" if producer else "saved")
        return repo.save_version(rec, blob).id

    for n in range(PLAIN_NAMES):
        for v in range(PLAIN_VERSIONS):
            save(f"dataset_{n:04d}", n * PLAIN_VERSIONS + v, tags=("prod",) if n % 7 == 0 else ())
    previous_model = None
    for r in range(RUNS):
        run_id = uuid.uuid4().hex
        pipeline = f"pipeline_{r % 3}"
        start = now + 10**10 + r * 10**7
        ids, steps = {}, []
        for k, (step, inputs) in enumerate((("load", {}), ("train", {"data": "load"}),
                                            ("evaluate", {"model": "train", "data": "load"}))):
            ins = {name: ids[src] for name, src in inputs.items()}
            if step == "train" and previous_model:
                ins["warm_start"] = previous_model
            ids[step] = save(f"{pipeline}::{step}::output", r * 3 + k,
                             producer={"run_id": run_id, "step": step, "output": "output"})
            steps.append(StepRecord(name=step, status="completed", cached=False, cache_key=uuid.uuid4().hex,
                                    code_hash="0" * 64, parameters={"lr": 0.1}, inputs=ins,
                                    outputs={"output": ids[step]}, upstream=tuple(inputs.values()),
                                    start_ns=start + k * 1000, end_ns=start + k * 1000 + 900))
        previous_model = ids["train"]
        repo.write_run(RunRecord(run_id=run_id, pipeline=pipeline, status="completed",
                                           steps=tuple(s.name for s in steps), start_ns=start, end_ns=start + 5000),
                           steps)
    repo.close()
    (root / "BUILT").write_text("ok\n")


def fetch_ms(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        resp.read()
        assert resp.status == 200, url
    return (time.perf_counter() - start) * 1000


def cold_and_slowest(url: str) -> tuple[float, float]:
    """The first fetch (layouts not cached yet) and the slowest of REPEAT after it."""
    cold = fetch_ms(url)
    return cold, max(fetch_ms(url) for _ in range(REPEAT))


def main() -> None:
    root = fixture_root()
    if "--rebuild" in sys.argv or not (root / "BUILT").exists():
        t = time.perf_counter()
        build(root)
        print(f"built fixture in {time.perf_counter() - t:.1f} s: {root}")
    from artrepo.client import Client
    from artrepo.ui.server import make_server, url_of

    t = time.perf_counter()
    server = make_server(root, "127.0.0.1", 0)
    startup = time.perf_counter() - t
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = url_of(server).rstrip("/")
    catalog = server.RequestHandlerClass.dashboard.catalog
    runs = catalog.runs_of()
    print(f"server start (index of {catalog.total("versions"):,} versions, {len(runs):,} runs): "
          f"{startup * 1000:.0f} ms")

    t = time.perf_counter()
    Client(root).list_artifact_versions()
    api_scan_ms = (time.perf_counter() - t) * 1000
    static_ms = cold_and_slowest(base + "/static/style.css")[1]

    deep = runs[len(runs) - 1:][0].steps[0].outputs["output"]  # the oldest load output: long lineage
    model = runs[0:1][0].steps[1].outputs["output"]  # the newest model: warm-start chain upstream
    fetch_ms(base + "/storage")
    while catalog.total("versions") and "Logical size" not in urllib.request.urlopen(base + "/storage").read().decode():
        time.sleep(0.2)
    pages = {
        "artifacts (first page)": "/",
        "artifacts, page 20": "/artifacts?page=20",
        "artifacts, search": "/artifacts?q=dataset_01",
        "artifacts, tag + sort by size": "/artifacts?tag=prod&sort=size",
        "one artifact (1,000 versions)": "/artifacts/pipeline_0%3A%3Atrain%3A%3Aoutput",
        "one version": f"/versions/{model}",
        "lineage (1,000-deep chain)": f"/versions/{model}/lineage",
        "lineage downstream": f"/versions/{deep}/lineage?direction=downstream",
        "runs (first page)": "/runs",
        "runs, page 15, one pipeline": "/runs?pipeline=pipeline_1&page=5",
        "one run with DAG": f"/runs/{runs[500:501][0].id}",
        "storage": "/storage",
    }
    worst = 0.0
    print(f"{'page':34} {'first':>9} {'slowest of ' + str(REPEAT):>14} {'x static':>9} {'x API scan':>11}")
    for label, path in pages.items():
        cold, ms = cold_and_slowest(base + path)
        worst = max(worst, cold, ms)
        print(f"{label:34} {cold:6.1f} ms {ms:11.1f} ms {ms / static_ms:9.1f} {ms / api_scan_ms:11.3f}")
    dashboard = server.RequestHandlerClass.dashboard
    with dashboard.lock:
        signature = catalog.index.meta("signature")
        signature["packed-refs"] = None  # as after maintenance rewrote it: every ref is looked at again
        catalog.db.execute("INSERT OR REPLACE INTO meta VALUES ('signature', ?)", (json.dumps(signature),))
        t = time.perf_counter()
        catalog.refresh()
        print(f"{'index refresh after packing refs':34} {(time.perf_counter() - t) * 1000:11.1f} ms"
              "  (added once to the first page after maintenance)")
    print(f"baseline: static file {static_ms:.1f} ms; Client().list_artifact_versions() {api_scan_ms:.0f} ms")
    print(f"slowest page {worst:.1f} ms: {'within' if worst <= BUDGET_MS else 'OVER'} the {BUDGET_MS} ms budget")
    server.shutdown()


if __name__ == "__main__":
    main()
