"""Writing pipeline runs as git commits, and the refs that find them again.

A run is written once, when it ends (a run in progress is never referenced):

1. the run's tree: `run.msgpack`, `steps/<encoded step>.msgpack` and
   `keys/<cache key>` (the same blob as the step record, for cache lookups),
   written as loose objects without fsync (`gitdb.loose`);
2. holding `locks/pipeline-<encoded pipeline>`: the commit, whose parent is
   the pipeline's previous run; one syncfs; `refs/artrepo/runs/<run id>`
   (fsynced: it publishes the run);
   `refs/artrepo/pipelines/<encoded pipeline>` by compare-and-swap;
3. derived refs: `refs/heads/runs` (so `git log` shows runs) and
   `refs/artrepo/cache/<key[:2]>/<key[2:]>` for every completed step.

See docs/format.md, "Runs, steps and cache keys".
"""
from __future__ import annotations

import datetime as dt

from artrepo import names
from artrepo.errors import AmbiguousReferenceError, NotFoundError
from artrepo.gitdb import loose
from artrepo.records.run import RunRecord, StepRecord
from artrepo.atomic import flock, sync_filesystem

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
    """Record a finished run; returns its commit id.

    The objects are written loose without fsync and made durable by one
    syncfs before `runs/<run id>` (fsynced) publishes them; `pipelines/<p>`
    and the cache refs are not fsynced (docs/format.md, "Runs, steps and cache keys").
    """
    objects = loose.ObjectWriter(repo.git_dir)
    step_blobs = {s.name: objects.blob(s.to_msgpack()) for s in steps}
    entries = [(loose.BLOB, "run.msgpack", objects.blob(run.to_msgpack())),
               (loose.TREE, "steps", objects.tree([(loose.BLOB, step_path(name)[len("steps/"):], oid)
                                                   for name, oid in step_blobs.items()]))]
    keys = {s.cache_key: step_blobs[s.name] for s in steps if s.status == "completed" and s.cache_key}
    if keys:
        entries.append((loose.TREE, "keys", objects.tree([(loose.BLOB, k, oid) for k, oid in keys.items()])))
    tree = objects.tree(entries)
    # A cached step's key already points at a run with the same outputs: only executed steps move it.
    new_keys = [s.cache_key for s in steps if s.status == "completed" and s.cache_key and not s.cached]
    message = run_message(run, steps)
    ref = pipeline_ref(run.pipeline)
    with flock(repo.git_dir / "locks" / f"pipeline-{names.encode(run.pipeline)}"):
        published = False
        while True:
            head = _derived_ref(repo, ref)
            commit = objects.commit(tree, [head] if head else [], message, run.start_ns)
            if objects.unsynced:
                sync_filesystem(repo.git_dir)
                objects.unsynced = 0
            run_ref = f"{RUNS}/{run.run_id}"
            if not published:
                _set_ref(repo, run_ref, lambda cur: commit if cur is None else None, f"run {run.pipeline}")
                published = True
            else:  # a writer outside the lock moved the pipeline ref: re-parent our own run ref
                _set_ref(repo, run_ref, lambda cur: commit, f"re-parent run {run.pipeline}")
            moved = _set_ref(repo, ref, lambda cur: commit if cur == head else None, f"run {run.run_id[:12]}",
                             durable=False)
            if moved == commit:
                break
    # HEAD names heads/runs and libgit2 resolves HEAD on every ref update: a torn one would stop all writes
    _set_ref(repo, RUNS_HEAD, lambda cur: commit, f"run {run.pipeline}")
    for key in new_keys:
        _set_ref(repo, cache_ref(key), lambda cur: commit, f"cache {run.pipeline}", durable=False)
    return commit


def _derived_ref(repo, name: str) -> str | None:
    """A derived ref's value; one a crash left torn (it is not fsynced) reads as absent."""
    try:
        return loose.read_ref(repo.git_dir, name, derived=True)
    except loose.NotSimple:
        return repo.refs.get(name)


def _set_ref(repo, name: str, decide, message: str, durable: bool = True) -> str | None:
    """`Refs.update` in pure Python (no fsync unless `durable`); pygit2 for an odd current value."""
    try:
        return loose.update_ref(repo.git_dir, name, decide, message, durable=durable)
    except loose.NotSimple:
        return repo.refs.update(name, decide, message)


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
    commit = _derived_ref(repo, cache_ref(key))
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
