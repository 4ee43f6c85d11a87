"""ZenML beside artrepo (issue 3): the same 10-step cached pipeline, as whole processes.

    .venv/bin/python bench/bench_zenml.py [--repeat 7] [--quick] [--zenml-python /tmp/zenml-venv/bin/python]
    .venv/bin/python bench/run.py zenml          # the same through the `make bench` runner

ZenML lives in its own venv, never in .venv (its local SQLite store needs the `local` extra):

    python3 -m venv /tmp/zenml-venv && /tmp/zenml-venv/bin/pip install 'zenml[local]'

If that python is missing, or ZenML fails to run, the ZenML half is skipped with one line
saying why and the artrepo half still runs.

For each tool, in a fresh project (ZenML: a `zenml init` repository, the default local
stack with SQLite, its global config in the scratch folder so nothing touches ~), the
pipelines of bench_pipeline.LINEAR (only the import line differs) run once to fill the
cache and once more to warm up. Then, interleaved, N times: `python -c "import <pkg>"`
and `python linear.py` (the cached 10-step run as a whole process); then, in one
process, N cached runs of the 10-step and of the 1-step pipeline, whose difference / 9
is the overhead per cached step. Medians are printed, with ratios against the tool's own
import. Every run but the first is checked afterwards, through the tool's own client,
to have had all its steps served from cache; a figure carries a warning if not.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench_pipeline import LINEAR
from common import Table, save_results, scratch

ZENML_PYTHON = "/tmp/zenml-venv/bin/python"

# Medians of n cached runs of each pipeline in one process, after one warm-up call each.
IN_PROCESS = '''
import json, statistics, sys, time
import linear
n = int(sys.argv[1]); t = {"in_process10": [], "in_process1": []}
linear.linear10(); linear.linear1()
for _ in range(n):
    for key, fn in (("in_process10", linear.linear10), ("in_process1", linear.linear1)):
        s = time.perf_counter(); fn(); t[key].append(time.perf_counter() - s)
print(json.dumps({k: statistics.median(v) for k, v in t.items()}))
'''
# Prints {"runs": n, "not_cached": [...]} for the newest k[pipeline] runs of each pipeline.
ARTREPO_CHECK = '''
import json, sys
from artrepo import Client
k = json.loads(sys.argv[1]); runs = []; bad = []
for p in ("linear10", "linear1"):
    for r in Client().list_pipeline_runs(p)[:k[p]]:
        runs.append(r.id)
        bad += [f"{p}/{n}" for n, s in r.steps.items() if not s.cached]
print(json.dumps({"runs": len(runs), "not_cached": bad}))
'''
ZENML_CHECK = '''
import json, sys
from zenml.client import Client
k = json.loads(sys.argv[1]); runs = []; bad = []
for p in ("linear10", "linear1"):
    for r in Client().list_pipeline_runs(pipeline_name=p, sort_by="desc:created", size=k[p], hydrate=True):
        runs.append(r.id)
        bad += [f"{p}/{n}:{s.status.value}" for n, s in r.steps.items() if s.status.value != "cached"]
print(json.dumps({"runs": len(runs), "not_cached": bad}))
'''


class ToolFailed(Exception):
    """A tool's command failed; the message is its last stderr line."""


@dataclass(frozen=True)
class Tool:
    package: str
    python: str
    init: list[str]
    check: str
    env: dict

    def run(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.python, *args], cwd=cwd, env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines() or [f"exit {proc.returncode}"]
            raise ToolFailed(f"`{' '.join(args)[:60]}` failed (exit {proc.returncode}): {lines[-1]}")
        return proc

    def wall(self, args: list[str], cwd: Path) -> float:
        t = time.perf_counter()
        self.run(args, cwd)
        return time.perf_counter() - t


def artrepo_tool() -> Tool:
    return Tool("artrepo", sys.executable, ["-m", "artrepo", "init", "."], ARTREPO_CHECK, dict(os.environ))


def zenml_tool(python: str, project: Path) -> Tool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_") and k != "PYTHONPATH"}
    env.update(ZENML_ANALYTICS_OPT_IN="false", ZENML_LOGGING_VERBOSITY="WARN", ZENML_ENABLE_RICH_TRACEBACK="false",
               ZENML_CONFIG_PATH=str(project / ".zenml-config"), ZENML_REPOSITORY_PATH=str(project))
    init = ["-c", "from zenml.client import Client; Client.initialize()"]  # what `zenml init` does
    return Tool("zenml", python, init, ZENML_CHECK, env)


def measure(tool: Tool, project: Path, repeat: int) -> dict:
    """Medians of `import <pkg>` and the cached 10-step run as processes, interleaved; then in process."""
    (project / "linear.py").write_text(LINEAR.replace("from artrepo import", f"from {tool.package} import"))
    base_cmd, run_cmd = ["-c", f"import {tool.package}"], ["linear.py"]
    tool.run(tool.init, project)
    for _ in range(2):  # fill the cache, then one cached warm-up
        tool.run(run_cmd, project)
        tool.run(["-c", "import linear; linear.linear1()"], project)
    base, cached = [], []
    for _ in range(repeat):
        base.append(tool.wall(base_cmd, project))
        cached.append(tool.wall(run_cmd, project))
    steps = json.loads(tool.run(["-c", IN_PROCESS, str(repeat)], project).stdout.strip().splitlines()[-1])
    # every run but the first fill of each pipeline: warm-up, timed, in-process warm-up and timed
    k = {"linear10": 1 + repeat + 1 + repeat, "linear1": 1 + 1 + repeat}
    check = json.loads(tool.run(["-c", tool.check, json.dumps(k)], project).stdout.strip().splitlines()[-1])
    return {"import": statistics.median(base), "linear10": statistics.median(cached), **steps,
            "runs": {"import": base, "linear10": cached}, "check": check, "checked": sum(k.values())}


def report(table: Table, tool: Tool, m: dict) -> None:
    check = m["check"]
    cached = check["runs"] == m["checked"] and not check["not_cached"]
    print(f"  {tool.package}: {check['runs']} cached runs checked through its client, "
          f"steps not from cache: {len(check['not_cached'])}")
    note = "" if cached else f" [NOT all cached: {check['runs']} runs checked, {check['not_cached'][:3]}]"
    base, t10 = m["import"], m["linear10"]
    per_step = (m["in_process10"] - m["in_process1"]) / 9
    target = tool.package == "artrepo"
    table.add(f"{tool.package}: import {tool.package}", "baseline", f"{base * 1000:.0f} ms", None)
    table.add(f"{tool.package}: 10-step fully cached run (process)", "<= 3x import" if target else "-",
              f"{t10 * 1000:.0f} ms = {t10 / base:.2f}x import{note}", (t10 <= 3 * base and cached) if target else None)
    table.add(f"{tool.package}: per cached step, in process (10-step - 1-step) / 9", "<= 10 ms" if target else "-",
              f"{per_step * 1000:.1f} ms (10 steps {m['in_process10'] * 1000:.0f} ms, "
              f"1 step {m['in_process1'] * 1000:.0f} ms){note}", (per_step <= 0.010 and cached) if target else None)


def main() -> int:
    ap = argparse.ArgumentParser(description="ZenML beside artrepo: a 10-step fully cached pipeline run.")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs of each command (median)")
    ap.add_argument("--quick", action="store_true", help="3 timed runs instead of --repeat")
    ap.add_argument("--zenml-python", default=ZENML_PYTHON, help="a python with zenml[local] installed")
    args = ap.parse_args()
    repeat = 3 if args.quick else args.repeat
    table = Table(f"10-step linear pipeline, fully cached (median of {repeat})")
    results = {}
    tools = [("artrepo", None)]
    if Path(args.zenml_python).exists():
        tools.append(("zenml", args.zenml_python))
    else:
        print(f"ZenML skipped: {args.zenml_python} not found (see the install line at the top of this script)")
    for name, python in tools:
        project = scratch(f"zenml-{name}")
        tool = artrepo_tool() if python is None else zenml_tool(python, project)
        print(f"-- {name}: filling the cache, then {repeat} timed rounds", flush=True)
        try:
            results[name] = measure(tool, project, repeat)
        except ToolFailed as e:
            print(f"{name} skipped: {e}")
            continue
        report(table, tool, results[name])
    if len(results) == 2:
        a, z = results["artrepo"], results["zenml"]
        table.add("zenml / artrepo, 10-step cached run", "-", f"{z['linear10'] / a['linear10']:.1f}x", None)
    print(table.render())
    print(f"results: {save_results('zenml-quick' if args.quick else 'zenml', [table], {'raw': results})}")
    return 0 if "artrepo" in results else 1


if __name__ == "__main__":
    sys.exit(main())
