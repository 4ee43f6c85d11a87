"""Running a plan: each step is served from cache or executed, then the run is recorded.

Outputs are published as versions as soon as their step ends; the run
itself is written (Repository.write_run) only when it is over, so a killed run
leaves published versions and no half-written run.
"""
from __future__ import annotations

import _thread
import os
import time
from collections.abc import Callable

from artrepo.errors import UserError
from artrepo.records.run import RunRecord, StepRecord
from artrepo.runtime import cachekey, context
from artrepo.runtime.graph import ExternalArtifact, LateArtifact, OutputHandle
from artrepo.plain import Plain
from artrepo.runtime.plan import Plan, PlannedStep, check_against_repository, compose


class RunOptions(Plain):
    """How a run goes: the CLI's options (`artrepo run`); a pipeline call uses the defaults."""

    __slots__ = ("no_cache", "explain", "config", "parameters", "parallel", "source", "report", "decisions")

    def __init__(self, no_cache: bool = False, explain: bool = False, config: dict | None = None,
                 parameters: dict | None = None, parallel: int | None = None, source: str | None = None,
                 report: Callable[[str], None] | None = None):
        self.no_cache, self.explain, self.config = no_cache, explain, config
        self.parameters = parameters  # pipeline parameters from `-p`
        self.parallel, self.source = parallel, source
        self.report = report  # one line per step as it ends
        self.decisions: list = []  # filled with explain.Decision when explain is set


class StepFailedError(UserError):
    """A step raised; `.run` is the recorded (failed) PipelineRun."""

    def __init__(self, message: str, run):
        super().__init__(message)
        self.run = run


def open_repository():
    """The repository of the working directory, shared with the public API (pygit2 only on demand).

    Like `client.active_repository`, it fetches chunks of versions pulled with
    `--metadata-only` on demand, so such versions can feed a step.
    """
    from artrepo.remotes.lazy import install_lazy_fetch
    from artrepo.repository import active

    repo = active()
    install_lazy_fetch(repo)
    return repo


def run_pipeline(pipeline, args: tuple, kwargs: dict, options: RunOptions):
    """Compose, validate, execute and record one run; returns its PipelineRun."""
    plan = compose(pipeline, args, kwargs, options)
    repo = open_repository()
    check_against_repository(repo, plan)
    return Execution(repo, plan, options).run()


def new_run_id(pipeline: str) -> str:
    from artrepo.storage.hashing import digest

    seed = f"{pipeline}\0{time.time_ns()}\0{os.getpid()}\0".encode() + os.urandom(16)
    return digest(seed).hex()[:40]


class Execution:
    def __init__(self, repo, plan: Plan, options: RunOptions):
        self.repo = repo
        self.plan = plan
        self.options = options
        self.run_id = new_run_id(plan.pipeline)
        self.records: dict[str, StepRecord] = {}
        # `_thread`'s lock is `threading.Lock`, without importing threading (a millisecond) on every run
        self.io_lock = _thread.allocate_lock()  # loads and saves stay serial; user code may overlap

    def run(self):
        start = time.time_ns()
        if self.plan.parallel > 1:
            self._run_parallel(self.plan.parallel)
        else:
            for name in self.plan.order:
                self.records[name] = self.run_step(self.plan.steps[name])
        steps = [self.records[n] for n in self.plan.order]
        failed = [s for s in steps if s.status == "failed"]
        record = RunRecord(run_id=self.run_id, pipeline=self.plan.pipeline,
                           status="failed" if failed else "completed", parameters=self.plan.parameters,
                           steps=tuple(self.plan.order), start_ns=start, end_ns=time.time_ns(),
                           source=self.plan.source)
        from artrepo.runs import PipelineRun

        commit = self.repo.write_run(record, steps)
        run = PipelineRun(self.repo, commit, record)
        if failed:
            skipped = [s.name for s in steps if s.status == "skipped"]
            first = failed[0]
            tail = f"; skipped: {', '.join(skipped)}" if skipped else ""
            raise StepFailedError(f"step {first.name!r} failed: {first.error} (run {self.run_id[:12]}{tail})", run)
        return run

    def _run_parallel(self, workers: int) -> None:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        pending = {n: set(self.plan.steps[n].invocation.upstream) for n in self.plan.order}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artrepo-step") as pool:
            running = {}
            while pending or running:
                for name in [n for n in self.plan.order if n in pending and not pending[n] - set(self.records)]:
                    del pending[name]
                    running[pool.submit(self.run_step, self.plan.steps[name])] = name
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    self.records[running.pop(fut)] = fut.result()

    # -- one step ---------------------------------------------------------------
    def run_step(self, ps: PlannedStep) -> StepRecord:
        upstream = tuple(ps.invocation.upstream)
        base = StepRecord(name=ps.name, status="skipped", cached=False, cache_key="", code_hash="",
                          parameters=ps.parameters, upstream=upstream, cacheable=ps.cacheable)
        blocked = [u for u in upstream if self.records[u].status != "completed"]
        if blocked:
            self._decide(ps.name, "skipped", f"upstream step {blocked[0]!r} did not complete")
            return self._report(base)
        start = time.time_ns()
        try:
            inputs = self._resolve_inputs(ps)
            input_ids = {k: info.id for k, info in inputs.items()}
            parts = cachekey.key_parts(ps.step.code_hash, ps.parameters,
                                       {k: info.record.content_hash.hex() for k, info in inputs.items()},
                                       self._output_signature(ps))
        except Exception as exc:
            return self._report(self._failed(base, exc, start))
        base = base.replace(code_hash=parts["code"], key_parts=parts, cache_key=cachekey.cache_key(parts),
                       inputs=input_ids, start_ns=start)
        if ps.cacheable:
            hit = self._cache_hit(ps, base)
            if hit is not None:
                return self._report(hit)
        else:
            self._decide(ps.name, "off", f"caching is off ({ps.why_not_cacheable})")
        try:
            outputs, labels = self._execute(ps, inputs)
        except Exception as exc:
            return self._report(self._failed(base, exc, start))
        return self._report(base.replace(status="completed", outputs=outputs, output_labels=labels,
                                    end_ns=time.time_ns()))

    def _failed(self, base: StepRecord, exc: BaseException, start: int) -> StepRecord:
        import traceback

        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, UserError):
            message = str(exc)
        return base.replace(status="failed", start_ns=start, end_ns=time.time_ns(), error=message,
                       traceback="".join(traceback.format_exception(exc)))

    def _output_signature(self, ps: PlannedStep) -> list[tuple[str, str, str]]:
        out = []
        for spec in ps.outputs:
            mat = ps.step.materializer_for(spec.key) or spec.materializer
            out.append((spec.key, ps.artifact_names[spec.key], mat.materializer_id() if mat else "default"))
        return out

    def _resolve_inputs(self, ps: PlannedStep) -> dict:
        out = {}
        for input_name, source in ps.invocation.artifacts.items():
            if isinstance(source, OutputHandle):
                out[input_name] = self.repo.by_id(self.records[source.step].outputs[source.key])
            elif isinstance(source, LateArtifact):
                out[input_name] = self.repo.resolve(source.reference, source.version)
            elif isinstance(source, ExternalArtifact):
                from artrepo.artifacts import save_value

                name = source.name or f"{self.plan.pipeline}::{ps.name}::{input_name}"
                with self.io_lock:
                    av = save_value(self.repo, source.value, name, materializer=source.materializer)
                out[input_name] = self.repo.by_id(av.id)
            else:  # an ArtifactVersion (graph accepts nothing else)
                out[input_name] = self.repo.by_id(source.id)
        return out

    def _cache_hit(self, ps: PlannedStep, base: StepRecord) -> StepRecord | None:
        found = self.repo.cached_step(base.cache_key)
        if found is None:
            if self.options.explain:
                self._decide(ps.name, "miss", self._closest_difference(ps.name, base.key_parts))
            return None
        commit, earlier = found
        missing = [k for k, vid in earlier.outputs.items()
                   if not self._output_present(vid, ps.artifact_names.get(k), earlier.output_labels.get(k))]
        run_id = self.repo.read_run(commit).run_id
        if missing:
            self._decide(ps.name, "miss", f"same cache key as run {run_id[:12]}, but its output "
                          f"{missing[0]!r} is no longer in the repository")
            return None
        self._decide(ps.name, "hit", f"same cache key as step {earlier.name!r} of run {run_id[:12]}")
        return base.replace(status="completed", cached=True, outputs=dict(earlier.outputs),
                       output_labels=dict(earlier.output_labels), cached_from=earlier.cached_from or run_id,
                       end_ns=time.time_ns())

    def _output_present(self, version_id: str, name: str | None, label: str | None) -> bool:
        """Whether a version a cache hit would reuse is still published.

        The cache key covers the output names, so the plan's `name` is the
        version's: its ref is checked without decoding the version record.
        """
        from artrepo.errors import ArtrepoError

        if name is not None and label is not None:
            if self.repo.version_id(name, label) == version_id:
                return True
        try:
            self.repo.by_id(version_id)  # the label may have changed (renumbered on push)
            return True
        except ArtrepoError:
            return False

    def _closest_difference(self, step: str, parts: dict) -> str:
        for commit in self.repo.pipeline_history(self.plan.pipeline):
            earlier = self.repo.read_step(commit, step)
            if earlier is None or not earlier.key_parts:
                continue
            what = cachekey.first_difference(earlier.key_parts, parts)
            run_id = self.repo.read_run(commit).run_id[:12]
            if what is None:
                return f"same key as run {run_id}, which did not complete this step ({earlier.status})"
            return f"{what} since run {run_id}"
        return "no earlier run of this step"

    def _execute(self, ps: PlannedStep, inputs: dict) -> tuple[dict, dict]:
        from artrepo.artifacts import load_value

        with self.io_lock:
            values = {k: load_value(self.repo, info) for k, info in inputs.items()}
        ctx = context.StepContext(self.plan.pipeline, ps.name, self.run_id, ps.artifact_names)
        token = context._STEP.set(ctx)
        try:
            result = ps.step.entrypoint(**ps.invocation.parameters, **values)
        finally:
            context._STEP.reset(token)
        return self._save_outputs(ps, ctx, _split_outputs(ps, result))

    def _save_outputs(self, ps: PlannedStep, ctx, values: list) -> tuple[dict, dict]:
        from artrepo.artifacts import save_value

        outputs, labels = {}, {}
        with self.io_lock:
            for spec, value in zip(ps.outputs, values):
                name = ps.artifact_names[spec.key]
                av = save_value(self.repo, value, name, spec.version, tags=[*spec.tags, *ctx.output_tags[spec.key]],
                                artifact_type=spec.artifact_type,
                                metadata={**spec.run_metadata, **ctx.output_metadata[spec.key]},
                                materializer=ps.step.materializer_for(spec.key) or spec.materializer,
                                producer={"run_id": self.run_id, "step": ps.name, "output": spec.key},
                                origin="pipeline")
                outputs[spec.key], labels[spec.key] = av.id, av.version
            for name in ctx.manual_saves:
                info = self._manual_save(name, ps.name)
                if info is not None and name not in outputs:
                    outputs[name], labels[name] = info.id, info.version
        return outputs, labels

    def _manual_save(self, name: str, step: str):
        for info in self.repo.versions(name):
            p = info.record.producer or {}
            if p.get("run_id") == self.run_id and p.get("step") == step:
                return info
        return None

    def _decide(self, step: str, outcome: str, reason: str) -> None:
        if self.options.explain:
            from artrepo.runtime.explain import Decision

            self.options.decisions.append(Decision(step, outcome, reason))

    def _report(self, record: StepRecord) -> StepRecord:
        if self.options.report is not None:
            from artrepo.runtime.explain import step_line

            explained = [d for d in self.options.decisions if d.step == record.name]
            self.options.report(step_line(record, explained[-1] if explained else None))
        return record


def _split_outputs(ps: PlannedStep, result) -> list:
    n = len(ps.outputs)
    if n == 0:
        return []
    if n == 1:
        return [result]
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
        raise UserError(f"step {ps.name!r} declares {n} outputs ({', '.join(s.key for s in ps.outputs)}) "
                        f"but returned {got}")
    return list(result)
