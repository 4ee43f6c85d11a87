"""Writing pipeline runs as git commits, and the refs that find them again.

A run is written once, when it ends (a run in progress is never referenced):

1. the run's tree: `run.msgpack`, `steps/<encoded step>.msgpack` and
   `keys/<cache key>` (the same blob as the step record, for cache lookups);
2. holding `locks/pipeline-<encoded pipeline>`: the commit, whose parent is
   the pipeline's previous run; `refs/artrepo/runs/<run id>` (publishes it);
   `refs/artrepo/pipelines/<encoded pipeline>` by compare-and-swap;
3. derived refs: `refs/heads/runs` (so `git log` shows runs) and
   `refs/artrepo/cache/<key[:2]>/<key[2:]>` for every completed step.

See docs/format.md, "Runs, steps and cache keys".
"""
from __future__ import annotations

import datetime as dt

from artrepo import names
from artrepo.errors import AmbiguousReferenceError, NotFoundError
from artrepo.records.run import RunRecord, StepRecord
from artrepo.atomic import flock

RUNS = "refs/artrepo/runs"
PIPELINES = "refs/artrepo/pipelines"
CACHE = "refs/artrepo/cache"
RUNS_HEAD = "refs/heads/runs"


def pipeline_ref(pipeline: str) -> str:
    return f"{PIPELINES}/{names.encode(pipeline)}"


def cache_ref(key: str) -> str:
    return f"{CACHE}/{key[:2]}/{key[2:]}"


def step_path(step: str) -> str:
    return f"steps/{names.encode(step)}.msgpack"


def run_message(run: RunRecord, steps: list[StepRecord]) -> str:
    """`run PIPELINE: STATUS`, one line per step, and trailers."""
    start = dt.datetime.fromtimestamp(run.start_ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="seconds")
    lines = [f"run {run.pipeline}: {run.status} ({len(steps)} steps, "
             f"{sum(s.cached for s in steps)} cached)", ""]
    for s in steps:
        state = "cached" if s.cached else s.status
        outs = ", ".join(f"{k}={v[:12]}" for k, v in s.outputs.items())
        lines.append(f"  {s.name}: {state}" + (f" -> {outs}" if outs else ""))
        if s.error:
            lines.append(f"    error: {(s.error.splitlines() or [''])[0][:200]}")
    lines += ["", f"Artrepo-Run-Id: {run.run_id}", f"Artrepo-Pipeline: {run.pipeline}",
              f"Artrepo-Status: {run.status}", f"Artrepo-Started: {start}"]
    return "\n".join(lines) + "\n"


def write_run(repo, run: RunRecord, steps: list[StepRecord]) -> str:
    """Record a finished run; returns its commit id."""
    step_blobs = {s.name: repo.objects.write_blob(s.to_msgpack()) for s in steps}
    entries: dict[str, object] = {"run.msgpack": run.to_msgpack()}
    entries["steps"] = {step_path(name)[len("steps/"):]: oid for name, oid in step_blobs.items()}
    keys = {s.cache_key: step_blobs[s.name] for s in steps if s.status == "completed" and s.cache_key}
    if keys:
        entries["keys"] = keys
    tree = repo.objects.write_tree(entries)
    # A cached step's key already points at a run with the same outputs: only executed steps move it.
    new_keys = [s.cache_key for s in steps if s.status == "completed" and s.cache_key and not s.cached]
    message = run_message(run, steps)
    ref = pipeline_ref(run.pipeline)
    with flock(repo.git_dir / "locks" / f"pipeline-{names.encode(run.pipeline)}"):
        published = False
        while True:
            head = repo.refs.get(ref)
            commit = repo.objects.write_commit(tree, [head] if head else [], message, run.start_ns)
            if not published:
                repo.refs.create(f"{RUNS}/{run.run_id}", commit, f"run {run.pipeline}")
                published = True
            else:  # a writer outside the lock moved the pipeline ref: re-parent our own run ref
                repo.refs.update(f"{RUNS}/{run.run_id}", lambda cur: commit, f"re-parent run {run.pipeline}")
            if repo.refs.compare_and_swap(ref, head, commit, f"run {run.run_id[:12]}"):
                break
    repo.refs.update(RUNS_HEAD, lambda cur: commit, f"run {run.pipeline}")
    for key in new_keys:
        repo.refs.update(cache_ref(key), lambda cur: commit, f"cache {run.pipeline}")
    return commit


# -- reading -------------------------------------------------------------------
def run_ids(repo) -> dict[str, str]:
    """{run id: run commit} for every published run."""
    return repo.refs.list_prefix(RUNS)


def read_run(repo, commit: str) -> RunRecord:
    from artrepo.errors import IntegrityError

    data = repo.objects.tree_file(commit, "run.msgpack")
    if data is None:
        raise IntegrityError(f"commit {commit[:12]} holds no run record")
    return RunRecord.from_msgpack(data)


def read_step(repo, commit: str, step: str) -> StepRecord | None:
    data = repo.objects.tree_file(commit, step_path(step))
    return None if data is None else StepRecord.from_msgpack(data)


def find_run(repo, id_or_prefix: str) -> tuple[str, str]:
    """(run id, commit) for a run id prefix or a run commit id prefix."""
    text = id_or_prefix.strip().lower()
    if len(text) < 4 or any(c not in "0123456789abcdef" for c in text):
        raise NotFoundError(f"no pipeline run {id_or_prefix!r}")
    ids = run_ids(repo)
    found = {(rid, c) for rid, c in ids.items() if rid.startswith(text) or c.startswith(text)}
    if len(found) > 1:
        raise AmbiguousReferenceError(f"run id prefix {id_or_prefix!r} is ambiguous; give more characters")
    if not found:
        raise NotFoundError(f"no pipeline run {id_or_prefix!r}")
    return found.pop()


def cached_step(repo, key: str) -> tuple[str, StepRecord] | None:
    """(run commit, step record) of the latest completed step with this cache key."""
    commit = repo.refs.get(cache_ref(key))
    if commit is None:
        return None
    data = repo.objects.tree_file(commit, f"keys/{key}")
    if data is None:
        return None
    return commit, StepRecord.from_msgpack(data)


def pipeline_heads(repo) -> dict[str, str]:
    return {names.decode(k): v for k, v in repo.refs.list_prefix(PIPELINES).items()}


def pipeline_history(repo, pipeline: str, limit: int = 50):
    """Run commits of one pipeline, newest first, following first parents."""
    commit = repo.refs.get(pipeline_ref(pipeline))
    count = 0
    while commit and count < limit:
        yield commit
        count += 1
        parents = repo.objects.commit(commit).parent_ids
        commit = str(parents[0]) if parents else None
