"""Runs of a Repository: written as commits, read back, and joined when they arrive from elsewhere.

A run is written once, when it ends (a run in progress is never referenced):

1. its tree: `run.msgpack`, `steps/<encoded step>.msgpack`, `keys/<cache
   key>` (the same blob as the step record, for cache lookups), and its
   provenance: `code/<encoded step>.py` (the blob each step record's `code`
   names), `provenance.msgpack` and `provenance.diff`; held in memory
   (`ObjectStore.batch`) with the step code blobs (`write_code`);
2. holding `locks/pipeline-<encoded pipeline>`: the commit, whose parent is
   the pipeline's previous run; the run's objects as one git pack and `.idx`
   under temporary names; `runs/<run id>` and `heads/runs` in one ref
   transaction (one syncfs makes the pack and both values durable; the pack
   and its `.idx` are renamed into place after it, before the refs move);
   `pipelines/<pipeline>` by compare-and-swap;
3. derived refs: `cache/<key[:2]>/<key[2:]>` for every step that executed.

See docs/format.md, "Runs, steps and cache keys" and "Runs from elsewhere".
"""
from __future__ import annotations

import datetime as dt
import heapq
import itertools
import re

from artrepo import names
from artrepo.atomic import flock
from artrepo.errors import AmbiguousReferenceError, ArtrepoError, IntegrityError, NotFoundError
from artrepo.gitdb import layout
from artrepo.gitdb.objects import BLOB, TREE, is_oid, object_id
from artrepo.records.run import ProvenanceRecord, RunRecord, StepRecord
from artrepo.repository.upkeep import maybe_maintain

# Provenance in a run's tree (and a version's: `provenance.*` only); docs/format.md, "Provenance".
CODE_TREE = "code"
PROVENANCE_RECORD = "provenance.msgpack"
PROVENANCE_DIFF = "provenance.diff"


def code_path(step: str) -> str:
    return f"{CODE_TREE}/{names.encode(step)}.py"


def provenance_rows(objects, provenance: ProvenanceRecord | None, diff: bytes | None) -> list:
    """Tree rows of a provenance record and its dirty diff (none when not given)."""
    rows = []
    if provenance is not None:
        rows.append((BLOB, PROVENANCE_RECORD, objects.write_blob(provenance.to_msgpack())))
    if diff:
        rows.append((BLOB, PROVENANCE_DIFF, objects.write_blob(diff)))
    return rows

_CACHE_KEY = re.compile(r"[0-9a-f]{64}\Z")  # runtime.cachekey: BLAKE3 hex


class Runs:
    """The runs part of `Repository` (a mixin: it uses `objects`, `refs` and `git_dir`)."""

    # -- writing ----------------------------------------------------------------------
    def write_code(self, text: str) -> str:
        """The git blob id of a step's code, written with the run whose steps name it (`write_run`)."""
        data = text.encode("utf-8", "surrogateescape")
        oid = object_id("blob", data)
        self.step_code[oid] = data
        return oid

    def write_run(self, run: RunRecord, steps: list[StepRecord], provenance: ProvenanceRecord | None = None,
                  diff: bytes | None = None) -> str:
        """Record a finished run (with its provenance and dirty diff, when captured); returns its commit id.

        The blobs that step records' `code` name are given by `write_code` (or exist already).
        """
        with self.objects.batch() as batch:  # one git pack: two new files, not ~20 loose objects
            commit = self._write_run(batch, run, steps, provenance, diff)
        # A cached step's key already points at a run with the same outputs: only executed steps move it.
        for key in [s.cache_key for s in steps if s.status == "completed" and s.cache_key and not s.cached]:
            self.refs.update(layout.cache_ref(key), lambda cur: commit, f"cache {run.pipeline}", durable=False)
        maybe_maintain(self, saved=False)
        return commit

    def _write_run(self, batch, run: RunRecord, steps: list[StepRecord], provenance: ProvenanceRecord | None,
                   diff: bytes | None) -> str:
        """The run's objects into `batch`, its commit, its refs (see the module docstring); the commit id."""
        objects = self.objects
        for code in dict.fromkeys(s.code for s in steps if s.code in self.step_code):
            objects.write_blob(self.step_code[code])
        step_blobs = {s.name: objects.write_blob(s.to_msgpack()) for s in steps}
        rows = [(BLOB, layout.RUN_RECORD, objects.write_blob(run.to_msgpack())),
                (TREE, layout.STEPS_TREE, objects.write_tree_rows(
                    [(BLOB, layout.step_path(name)[len(layout.STEPS_TREE) + 1:], oid)
                     for name, oid in step_blobs.items()]))]
        keys = {s.cache_key: step_blobs[s.name] for s in steps if s.status == "completed" and s.cache_key}
        if keys:
            rows.append((TREE, layout.KEYS_TREE, objects.write_tree_rows([(BLOB, k, o) for k, o in keys.items()])))
        code = [(BLOB, code_path(s.name)[len(CODE_TREE) + 1:], s.code) for s in steps if s.code]
        if code:
            rows.append((TREE, CODE_TREE, objects.write_tree_rows(code)))
        rows += provenance_rows(objects, provenance, diff)
        tree = objects.write_tree_rows(rows)
        message = run_message(run, steps, provenance)
        ref = layout.pipeline_ref(run.pipeline)
        with flock(layout.pipeline_lock(self.git_dir, run.pipeline)):
            published = False
            while True:
                head = self.refs.get(ref, derived=True)
                commit = objects.write_commit(tree, [head] if head else [], message, run.start_ns)
                self._publish_run(run, commit, batch, again=published)
                published = True
                moved = self.refs.update(ref, lambda cur: commit if cur == head else None,
                                         f"run {run.run_id[:12]}", durable=False)
                if moved == commit:
                    break
                # else a writer outside the lock moved the pipeline ref: re-parent our own run ref
        return commit

    def _publish_run(self, run: RunRecord, commit: str, batch, again: bool) -> None:
        """`runs/<run id>` and `heads/runs` at `commit`, durable together with the objects of `batch`.

        HEAD names heads/runs and git resolves HEAD on every ref update, so it is
        durable too: a torn one would stop all writes.
        """
        with self.refs.transaction([layout.run_ref(run.run_id), layout.RUNS_HEAD]) as txn:
            if again:  # re-parented after a writer outside the lock moved the pipeline ref
                txn.set(layout.run_ref(run.run_id), lambda cur: commit, f"re-parent run {run.pipeline}")
            else:
                txn.set(layout.run_ref(run.run_id), lambda cur: commit if cur is None else None, f"run {run.pipeline}")
            txn.set(layout.RUNS_HEAD, lambda cur: commit, f"run {run.pipeline}")
            batch.stage()
            txn.commit(before=batch.land)

    # -- reading ----------------------------------------------------------------------
    def run_ids(self) -> dict[str, str]:
        """{run id: run commit} for every published run."""
        return self.refs.list_prefix(layout.RUNS)

    def run_commit(self, run_id: str) -> str | None:
        return self.refs.get(layout.run_ref(run_id))

    def read_run(self, commit: str) -> RunRecord:
        data = self.objects.tree_file(commit, layout.RUN_RECORD)
        if data is None:
            raise IntegrityError(f"commit {commit[:12]} holds no run record")
        return RunRecord.from_msgpack(data)

    def read_step(self, commit: str, step: str) -> StepRecord | None:
        data = self.objects.tree_file(commit, layout.step_path(step))
        return None if data is None else StepRecord.from_msgpack(data)

    def find_run(self, id_or_prefix: str) -> tuple[str, str]:
        """(run id, commit) for a run id prefix or a run commit id prefix."""
        text = id_or_prefix.strip().lower()
        if len(text) < 4 or any(c not in "0123456789abcdef" for c in text):
            raise NotFoundError(f"no pipeline run {id_or_prefix!r}")
        found = {(rid, c) for rid, c in self.run_ids().items() if rid.startswith(text) or c.startswith(text)}
        if len(found) > 1:
            raise AmbiguousReferenceError(f"run id prefix {id_or_prefix!r} is ambiguous; give more characters")
        if not found:
            raise NotFoundError(f"no pipeline run {id_or_prefix!r}")
        return found.pop()

    def read_code(self, blob: str) -> str:
        """The code text a step record's `code` names."""
        return self.objects.blob(blob).decode("utf-8", "surrogateescape")

    def read_provenance(self, commit: str) -> tuple[ProvenanceRecord, bytes] | None:
        """(provenance record, dirty diff or b"") of a run or version commit; None when it holds none."""
        data = self.objects.tree_file(commit, PROVENANCE_RECORD)
        if data is None:
            return None
        return ProvenanceRecord.from_msgpack(data), self.objects.tree_file(commit, PROVENANCE_DIFF) or b""

    def cached_step(self, key: str) -> tuple[str, StepRecord] | None:
        """(run commit, step record) of the latest completed step with this cache key."""
        commit = self.refs.get(layout.cache_ref(key), derived=True)
        if commit is None:
            return None
        data = self.objects.tree_file(commit, f"{layout.KEYS_TREE}/{key}")
        return None if data is None else (commit, StepRecord.from_msgpack(data))

    def pipeline_heads(self) -> dict[str, str]:
        return {names.decode(k): v for k, v in self.refs.list_prefix(layout.PIPELINES).items()}

    def pipeline_history(self, pipeline: str, limit: int = 50):
        """Run commits of one pipeline, newest first (through the merge commits of pulled chains)."""
        head = self.refs.get(layout.pipeline_ref(pipeline), derived=True)
        for commit, _time in itertools.islice(self.walk_runs([head] if head else []), limit):
            yield commit

    def walk_runs(self, heads):
        """(commit, commit time) of the run commits `heads` reach, newest first, as `git log` lists them.

        Merge commits (a pull joining two chains of a pipeline) are walked
        through, never yielded: a run commit has at most one parent.
        """
        seen = set(heads)
        heap = [(-c.commit_time, c.id) for c in map(self.objects.commit, seen)]
        heapq.heapify(heap)
        while heap:
            _neg_time, oid = heapq.heappop(heap)
            while True:
                c = self.objects.commit(oid)
                if len(c.parent_ids) < 2:
                    yield oid, c.commit_time
                parents = [p for p in c.parent_ids if p not in seen]
                seen.update(parents)
                if len(parents) != 1 or heap:
                    break
                oid = parents[0]  # one chain left: its next commit is the newest, no heap needed
            for parent in parents:
                heapq.heappush(heap, (-self.objects.commit(parent).commit_time, parent))

    # -- runs that arrived from elsewhere (pull) -----------------------------------------
    def run_problem(self, commit: str) -> str | None:
        """Why a run commit from elsewhere may not join this repository (None: it may).

        Its run record decodes and names a valid pipeline (it becomes a ref
        and a lock file name), every entry of its `keys/` tree is a cache
        key (it becomes a ref) holding a completed step record of that key,
        and its provenance record, if any, decodes (`show` and the run page read it).
        """
        try:
            run = self.read_run(commit)
            names.validate_name(run.pipeline)
            self.read_provenance(commit)
            for key, blob in self.objects.tree_listing(commit, layout.KEYS_TREE).items():
                if not _CACHE_KEY.match(key):
                    return f"its keys/ tree holds {key[:80]!r}, which is not a cache key"
                step = StepRecord.from_msgpack(self.objects.blob(blob))
                if step.cache_key != key or step.status != "completed":
                    return f"its cache entry {key[:12]} holds the record of another step"
        except ArtrepoError as exc:
            return str(exc)
        return None

    def adopt_runs(self, commits) -> None:
        """Make the derived refs reach the published run commits `commits` the way a local run would.

        For each pipeline, `pipelines/<p>` moves to the one commit that reaches its
        current head and the new runs (`join_chains`); `heads/runs` follows the
        newest chain; cache refs are created for keys no local run answers.
        Runs the chains reach already are skipped, so calling it again is cheap
        and repairs what an interrupted call left. Nothing is rewritten.
        """
        heads = [h for h in self.pipeline_heads().values() if is_oid(h)]
        wanted = set(commits)
        outside = [c.id for c in self.objects.walk(wanted, heads) if c.id in wanted] if wanted else []
        # a run that is not what this repository writes never names a ref (pull refuses it first)
        outside = [c for c in outside if self.run_problem(c) is None]
        arrived = sorted(((self.read_run(c), c) for c in outside), key=lambda rc: rc[0].start_ns)
        if not arrived:
            return
        by_pipeline: dict[str, list[str]] = {}
        for run, commit in arrived:
            by_pipeline.setdefault(run.pipeline, []).append(commit)
        # cache refs, then chains, then heads/runs: runs an interrupted call left outside the chains are redone
        holder = {layout.cache_ref(key): c for _run, c in arrived
                  for key in self.objects.tree_listing(c, layout.KEYS_TREE)}
        with self.refs.transaction(list(holder), durable=False) as txn:
            for ref, commit in holder.items():  # the latest arrived run holding the key
                txn.set(ref, lambda cur, c=commit: c if cur is None else None, "pulled run")
            txn.commit()
        moved = []
        for pipeline, runs in by_pipeline.items():
            with flock(layout.pipeline_lock(self.git_dir, pipeline)):
                moved.append(self.refs.update(layout.pipeline_ref(pipeline),
                                              lambda cur, p=pipeline, r=runs: self.join_chains(p, cur, r),
                                              "pulled runs", durable=False))
        self.refs.update(layout.RUNS_HEAD, lambda cur: self._newest_chain(cur, moved), "pulled runs")

    def join_chains(self, pipeline: str, head: str | None, runs: list[str]) -> str:
        """The commit reaching `head` and every commit of `runs`: one of them, or a merge commit of the tips.

        The merge commit's parents are the tips newest first; its tree is empty and
        its time the newest tip's, so two clones joining the same chains write the
        same commit.
        """
        tips = self._tips(head, runs)
        if len(tips) == 1:
            return tips[0]
        tips.sort(key=self._newness, reverse=True)
        newest = self.objects.commit(tips[0]).commit_time
        message = f"merge runs of {pipeline} ({len(tips)} chains)\n\nArtrepo-Pipeline: {pipeline}\n"
        return self.objects.write_commit(self.objects.write_tree_rows([]), tips, message, newest * 10**9)

    def _newness(self, commit: str) -> tuple[int, str]:
        """Sort key of a chain tip: when its newest run ended (commit times are whole seconds), then an id."""
        parents = self.objects.commit(commit).parent_ids
        if len(parents) > 1:  # a merge of chains is as new as its newest tip
            return max(map(self._newness, parents))
        return self.read_run(commit).end_ns, commit

    def _tips(self, head: str | None, runs: list[str]) -> list[str]:
        """Those of `runs` and `head` that no other of them reaches.

        Walks only the commits `head` does not reach: a path from one candidate to
        another runs through them, and `head` is reached iff one of them names it
        as a parent.
        """
        walked, parents = set(), set()
        for c in self.objects.walk(runs, [head] if head else []):
            walked.add(c.id)
            parents.update(c.parent_ids)
        tips = [c for c in dict.fromkeys(runs) if c in walked and c not in parents]
        return tips + [head] if head and head not in parents else tips

    def _newest_chain(self, current: str | None, heads: list[str]) -> str:
        """heads/runs after chains moved: the newest of them, or `current` if newer (a tie goes to one reaching it)."""
        def rank(c):
            reaches = current is not None and self.objects.is_ancestor(current, c)
            return self.objects.commit(c).commit_time, reaches

        return max([*heads, current] if current else heads, key=rank)


def run_message(run: RunRecord, steps: list[StepRecord], provenance: ProvenanceRecord | None = None) -> str:
    """`run PIPELINE: STATUS`, one line per step, and trailers (with the provenance `git log` shows)."""
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
    if provenance is not None:
        lines += provenance_trailers(provenance)
    return "\n".join(lines) + "\n"


def provenance_trailers(provenance: ProvenanceRecord) -> list[str]:
    """`Artrepo-Git-Commit`, `-Git-Branch`, `-Git-Dirty`, `-Python`, `-Version` lines (what was captured)."""
    git, env = provenance.git_state, provenance.environment
    lines = []
    if git.get("commit"):
        lines.append(f"Artrepo-Git-Commit: {git['commit']}")
        if git.get("branch"):
            lines.append(f"Artrepo-Git-Branch: {git['branch']}")
        lines.append(f"Artrepo-Git-Dirty: {'yes' if git.get('dirty') else 'no'}")
    if env.get("python"):
        lines.append(f"Artrepo-Python: {env['python']}")
    if env.get("artrepo"):
        lines.append(f"Artrepo-Version: {env['artrepo']}")
    return lines
