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
import itertools

from artrepo import names
from artrepo.errors import AmbiguousReferenceError, NotFoundError
from artrepo.gitdb import layout, loose
from artrepo.gitdb.layout import PIPELINES, RUNS, RUNS_HEAD, cache_ref, pipeline_ref, step_path
from artrepo.records.run import RunRecord, StepRecord
from artrepo.atomic import flock, sync_filesystem



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

    The objects are written loose without fsync; one syncfs makes them and
    the new values of `runs/<run id>` and `heads/runs` durable before those
    refs are renamed into place. `pipelines/<p>` and the cache refs are
    derived, not fsynced (docs/format.md, "Runs, steps and cache keys").
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
    with flock(layout.pipeline_lock(repo.git_dir, run.pipeline)):
        published = False
        while True:
            head = _derived_ref(repo, ref)
            commit = objects.commit(tree, [head] if head else [], message, run.start_ns)
            _publish(repo, run, commit, again=published)
            published = True
            moved = _set_ref(repo, ref, lambda cur: commit if cur == head else None, f"run {run.run_id[:12]}",
                             durable=False)
            if moved == commit:
                break
            # else a writer outside the lock moved the pipeline ref: re-parent our own run ref
    for key in new_keys:
        _set_ref(repo, cache_ref(key), lambda cur: commit, f"cache {run.pipeline}", durable=False)
    return commit


def _publish(repo, run: RunRecord, commit: str, again: bool) -> None:
    """Point `runs/<run id>` and `heads/runs` at `commit`, durable together with the objects written before.

    HEAD names heads/runs and libgit2 resolves HEAD on every ref update, so
    heads/runs is durable too: a torn one would stop all writes.
    """
    run_ref = layout.run_ref(run.run_id)
    if again:  # re-parented after a writer outside the lock moved the pipeline ref
        updates = [(run_ref, lambda cur: commit, f"re-parent run {run.pipeline}")]
    else:
        updates = [(run_ref, lambda cur: commit if cur is None else None, f"run {run.pipeline}")]
    updates.append((RUNS_HEAD, lambda cur: commit, f"run {run.pipeline}"))
    try:
        with loose.RefTransaction(repo.git_dir) as refs:
            for name, decide, message in updates:
                refs.set(name, decide, message)
            refs.commit()
        return
    except loose.NotSimple:  # an odd current value: pygit2 answers it, one durable ref at a time
        pass
    sync_filesystem(repo.git_dir)
    for name, decide, message in updates:
        _set_ref(repo, name, decide, message)


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
    """Run commits of one pipeline, newest first (through the merge commits of pulled chains)."""
    head = repo.refs.get(pipeline_ref(pipeline))
    for commit, _time in itertools.islice(walk_runs(repo, [head] if head else []), limit):
        yield commit


def walk_runs(repo, heads):
    """(commit, commit time) of the run commits `heads` reach, newest first, as `git log` lists them.

    Merge commits (a pull joining two chains of a pipeline) are walked
    through, never yielded: a run commit has at most one parent.
    """
    import heapq

    seen = set(heads)
    heap = [(-c.commit_time, oid, c) for oid in seen for c in [repo.objects.commit(oid)]]
    heapq.heapify(heap)
    while heap:
        _neg_time, oid, c = heapq.heappop(heap)
        while True:
            ids = c.parent_ids
            if len(ids) < 2:
                yield oid, c.commit_time
            parents = [p for p in map(str, ids) if p not in seen]
            seen.update(parents)
            if len(parents) != 1 or heap:
                break
            oid = parents[0]  # one chain left: its next commit is the newest, no heap needed
            c = repo.objects.commit(oid)
        for parent in parents:
            p = repo.objects.commit(parent)
            heapq.heappush(heap, (-p.commit_time, parent, p))


# -- runs that arrived from elsewhere (pull) -----------------------------------
def adopt_runs(repo, commits) -> None:
    """Make the derived refs reach the published run commits `commits` the way a local run would.

    For each pipeline, `pipelines/<p>` moves to the one commit that reaches its
    current head and the new runs (`join_chains`); `heads/runs` follows the
    newest chain; cache refs are created for keys no local run answers.
    Runs the chains reach already are skipped, so calling it again is cheap
    and repairs what an interrupted call left. Nothing is rewritten.
    """
    heads = [h for h in pipeline_heads(repo).values() if loose.is_oid(h)]
    arrived = sorted(((read_run(repo, c), c) for c in _outside(repo, set(commits), heads)),
                     key=lambda rc: rc[0].start_ns)
    if not arrived:
        return
    by_pipeline: dict[str, list[str]] = {}
    for run, commit in arrived:
        by_pipeline.setdefault(run.pipeline, []).append(commit)
    # cache refs, then chains, then heads/runs: runs an interrupted call left outside the chains are redone
    holder = {key: c for _run, c in arrived for key in repo.objects.tree_listing(c, "keys")}
    for key, commit in holder.items():  # the latest arrived run holding the key
        _set_ref(repo, cache_ref(key), lambda cur, c=commit: c if cur is None else None, "pulled run",
                 durable=False)
    moved = []
    for pipeline, runs in by_pipeline.items():
        with flock(layout.pipeline_lock(repo.git_dir, pipeline)):
            moved.append(_set_ref(repo, pipeline_ref(pipeline),
                                  lambda cur, p=pipeline, r=runs: join_chains(repo, p, cur, r), "pulled runs",
                                  durable=False))
    _set_ref(repo, RUNS_HEAD, lambda cur: _newest_chain(repo, cur, moved), "pulled runs")


def join_chains(repo, pipeline: str, head: str | None, runs: list[str]) -> str:
    """The commit reaching `head` and every commit of `runs`: one of them, or a merge commit of the tips.

    The merge commit's parents are the tips newest first; its tree is empty and
    its time the newest tip's, so two clones joining the same chains write the
    same commit.
    """
    tips = _tips(repo, head, runs)
    if len(tips) == 1:
        return tips[0]
    tips.sort(key=lambda c: _newness(repo, c), reverse=True)
    newest = repo.objects.commit(tips[0]).commit_time
    message = f"merge runs of {pipeline} ({len(tips)} chains)\n\nArtrepo-Pipeline: {pipeline}\n"
    return repo.objects.write_commit(repo.objects.write_tree({}), tips, message, newest * 10**9)


def _newness(repo, commit: str) -> tuple[int, str]:
    """Sort key of a chain tip: when its newest run ended (commit times are whole seconds), then an id."""
    parents = repo.objects.commit(commit).parent_ids
    if len(parents) > 1:  # a merge of chains is as new as its newest tip
        return max(_newness(repo, str(p)) for p in parents)
    return read_run(repo, commit).end_ns, commit


def _outside(repo, commits: set[str], heads: list[str]) -> list[str]:
    """Those of `commits` that none of `heads` reaches."""
    if not commits:
        return []
    walk = repo.git.walk(None)
    for c in commits:
        walk.push(c)
    for h in heads:
        walk.hide(h)
    return [str(c.id) for c in walk if str(c.id) in commits]


def _tips(repo, head: str | None, runs: list[str]) -> list[str]:
    """Those of `runs` and `head` that no other of them reaches.

    Walks only the commits `head` does not reach: a path from one candidate to
    another runs through them, and `head` is reached iff one of them names it
    as a parent.
    """
    walk = repo.git.walk(None)
    for c in runs:
        walk.push(c)
    if head:
        walk.hide(head)
    walked, parents = set(), set()
    for c in walk:
        walked.add(str(c.id))
        parents.update(map(str, c.parent_ids))
    tips = [c for c in dict.fromkeys(runs) if c in walked and c not in parents]
    return tips + [head] if head and head not in parents else tips


def _newest_chain(repo, current: str | None, heads: list[str]) -> str:
    """heads/runs after chains moved: the newest of them, or `current` if newer (a tie goes to one reaching it)."""
    def rank(c):
        reaches = current is not None and (c == current or repo.git.descendant_of(c, current))
        return repo.objects.commit(c).commit_time, reaches

    return max([*heads, current] if current else heads, key=rank)
