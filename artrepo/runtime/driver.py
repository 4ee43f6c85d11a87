"""Running a plan: the driver decides each step, a scheduler runs those that must run, the run is recorded.

For each step, once its upstream steps are done, the driver resolves its
inputs, computes its cache key and decides: skipped (an upstream step did not
complete), served from cache (it alone reads the repository's cache), or run:
then it becomes a `StepTask` for the scheduler, and the driver publishes the
versions the task staged. Outputs are published as soon as their step ends;
the run itself is written only when it is over, so a killed run leaves
published versions and no half-written run.

Before any step runs, the driver decides every step whose inputs are known
without running anything (inputs from outside the run, or from steps already
decided as cache hits): a step that must run and would save a custom version
that already exists is refused then, with nothing written. A step whose
inputs come from a step that must run can only be decided once that step
ran (equal output data may still make it a hit): if it misses, it fails
before its task starts (docs/zenml.md, "custom versions").
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from artrepo.errors import ConflictError, UserError
from artrepo.plain import Plain
from artrepo.records.run import RunRecord, StepRecord
from artrepo.runtime import cachekey
from artrepo.runtime.graph import ExternalArtifact, LateArtifact, OutputHandle
from artrepo.runtime.plan import Plan, PlannedStep, check_late_artifacts, compose


class RunOptions(Plain):
    """How a run goes: the CLI's options (`artrepo run`); a pipeline call uses the defaults."""

    __slots__ = ("no_cache", "explain", "config", "parameters", "parallel", "source", "report", "scheduler",
                 "decisions", "stack")

    def __init__(self, no_cache: bool = False, explain: bool = False, config: dict | None = None,
                 parameters: dict | None = None, parallel: int | None = None, source: str | None = None,
                 report: Callable[[str], None] | None = None, scheduler=None, stack: str | None = None):
        self.no_cache, self.explain, self.config = no_cache, explain, config
        self.parameters = parameters  # pipeline parameters from `-p`
        self.parallel, self.source = parallel, source
        self.scheduler = scheduler  # a runtime.scheduler.Scheduler; None: the stack's (in this process by default)
        self.stack = stack  # `--stack NAME`; None: the repository's active stack
        self.report = report  # one line per step as it ends
        self.decisions: dict = {}  # step -> its explain.Decision, when explain is set


class StepFailedError(UserError):
    """A step raised; `.run` is the recorded (failed) PipelineRun."""

    def __init__(self, message: str, run):
        super().__init__(message)
        self.run = run


def run_pipeline(pipeline, args: tuple, kwargs: dict, options: RunOptions):
    """Compose, validate, execute and record one run; returns its PipelineRun."""
    from artrepo.stacks import run_stack
    from artrepo.workdir import active_repository  # fetches chunks of `--metadata-only` pulls on demand

    plan = compose(pipeline, args, kwargs, options)
    repo = active_repository()
    check_late_artifacts(repo, plan)
    stack = run_stack(repo, options.stack, getattr(pipeline, "orchestrator", None))
    if options.report is None and stack is not None and stack.orchestrator.flavor != "local":
        options.report = _progress  # steps on other processes: say where each one is
    code = getattr(pipeline.entrypoint, "__code__", None)
    return Driver(repo, plan, options, stack, pipeline_file=code.co_filename if code else None).run()


def _progress(line: str) -> None:
    """A progress line on stderr, control characters escaped (an error message may hold any text)."""
    shown = "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode() for c in line)
    print(shown, file=sys.stderr, flush=True)


def new_run_id(pipeline: str) -> str:
    from artrepo.storage.hashing import digest

    seed = f"{pipeline}\0{time.time_ns()}\0{os.getpid()}\0".encode() + os.urandom(16)
    return digest(seed).hex()[:40]


class Driver:
    """Runs one plan (see the module docstring); `run()` returns the recorded PipelineRun."""

    def __init__(self, repo, plan: Plan, options: RunOptions, stack=None, pipeline_file: str | None = None):
        from artrepo.runtime.provenance import RunCapture

        self.repo = repo
        self.plan = plan
        self.options = options
        self.stack = stack  # a stacks.Stack other than local + local, or None
        self.provenance = RunCapture(repo.git_dir, repo.root, pipeline_file)
        self.run_id = new_run_id(plan.pipeline)
        self.start_ns = time.time_ns()
        self.run_name = plan.format_run_name(self.start_ns) or ""
        self.run_metadata: dict = {}  # logged on this run by its steps
        self.records: dict[str, StepRecord] = {}
        self.running: dict[str, StepRecord] = {}  # step -> its record so far, while its task runs
        self.pending: dict[str, tuple] = {}  # step -> (record so far, task): decided up front, not yet submitted
        self.existing: dict[str, str] = {}  # step -> a custom version of it that exists already
        self.store = None  # the repository as steps in this process use it (runtime.task.LocalStore)
        self.scheduler = options.scheduler  # else made for the first step that runs: a cached run needs none
        self.stack_store = None  # the stack's artifact store as this run uses it (runtime.stackstore)
        self.produced: list[str] = []  # versions this run published

    def run(self):
        try:
            self._decide_up_front()
            try:
                self._drive()
            finally:
                if self.scheduler is not None:
                    self.scheduler.close()
            return self._record()
        finally:
            if self.stack_store is not None:
                self.stack_store.close()

    def _record(self):
        steps = [self.records[n] for n in self.plan.order]
        failed = [s for s in steps if s.status == "failed"]
        record = RunRecord(run_id=self.run_id, pipeline=self.plan.pipeline,
                           status="failed" if failed else "completed", parameters=self.plan.parameters,
                           steps=tuple(self.plan.order), start_ns=self.start_ns, end_ns=time.time_ns(),
                           source=self.plan.source, run_name=self.run_name, tags=self.plan.tags,
                           metadata=self.run_metadata)
        from artrepo.models import PipelineRun

        run = PipelineRun(self.repo, self.repo.write_run(record, steps, *self.provenance.finish()), record)
        if self.stack is not None and self.stack.remote is not None:
            self._publish_to_stack()
        if failed:
            skipped = [s.name for s in steps if s.status == "skipped"]
            first = failed[0]
            tail = f"; skipped: {', '.join(skipped)}" if skipped else ""
            raise StepFailedError(f"step {first.name!r} failed: {first.error} (run {self.run_id[:12]}{tail})", run)
        return run

    def _publish_to_stack(self) -> None:
        from artrepo.errors import ArtrepoError

        try:
            used = [vid for r in self.records.values() for vid in (*r.inputs.values(), *r.outputs.values())]
            self._stack_store().publish_run(self.run_id, self.produced, used)
        except (ArtrepoError, OSError) as exc:
            raise UserError(f"run {self.run_id[:12]} is recorded here, but publishing it to remote "
                            f"{self.stack.remote.name} failed: {exc}") from None

    def _stack_store(self):
        if self.stack_store is None:
            from artrepo.runtime.stackstore import run_store

            self.stack_store = run_store(self.repo, self.stack)
        return self.stack_store

    def _decide_up_front(self) -> None:
        """Decide the steps that need no step to run first; a custom version one of them would save again
        is a ConflictError, raised before anything is written (see the module docstring)."""
        existing = self.existing = self._existing_custom_versions()
        for name in self.plan.order:
            ps = self.plan.steps[name]
            if name in existing and not ps.cacheable:
                raise ConflictError(self._conflict(ps, existing[name], f"caching is off: {ps.why_not_cacheable}"))
            if not ps.cacheable or any(u not in self.records for u in ps.invocation.upstream):
                continue  # an ExternalArtifact input is saved only once the run goes ahead
            decided = self._decide(ps)
            if isinstance(decided, StepRecord):
                self.records[name] = decided
            elif name in existing:
                raise ConflictError(self._conflict(ps, existing[name], "its cache key misses"))
            else:
                self.pending[name] = decided
        for record in self.records.values():  # once the run goes ahead
            self._report(record)

    def _existing_custom_versions(self) -> dict[str, str]:
        """{step: "name:version"} of the custom versions steps of the plan save that already exist."""
        out = {}
        for ps in self.plan.steps.values():
            for spec in ps.outputs:
                name = ps.artifact_names[spec.key]
                if spec.version is not None and spec.version in self.repo.version_refs(name):
                    out.setdefault(ps.name, f"{name}:{spec.version}")
        return out

    @staticmethod
    def _conflict(ps: PlannedStep, label: str, why: str) -> str:
        return (f"step {ps.name!r} must run ({why}) but version {label} already exists; custom versions are "
                "used once (change the version or remove it)")

    def _drive(self) -> None:
        """Decide steps in plan order as their upstream steps finish; submit those that must run."""
        waiting = [name for name in self.plan.order if name not in self.records]
        while waiting or self.running:
            for name in list(waiting):
                if self.scheduler is not None and len(self.running) >= self.scheduler.slots:
                    break
                if any(u not in self.records for u in self.plan.steps[name].invocation.upstream):
                    continue
                waiting.remove(name)
                decided = self.pending.pop(name, None) or self._decide(self.plan.steps[name])
                if not isinstance(decided, StepRecord) and name in self.existing:
                    # decided only now (its inputs came from a step that ran): refused before its task starts
                    conflict = self._conflict(self.plan.steps[name], self.existing[name], "its cache key misses")
                    decided = _failed(decided[0], ConflictError(conflict), decided[0].start_ns)
                if isinstance(decided, StepRecord):
                    self.records[name] = self._report(decided)
                else:
                    self._submit(*decided)
            if self.running:
                for task, outcome in self.scheduler.wait_any():
                    base = self.running.pop(task.step)
                    if outcome.error is not None and task.attempt < self.plan.steps[task.step].step.retries:
                        self._say(f"step {task.step}: attempt {task.attempt + 1} failed ({outcome.error}); "
                                  "trying again")
                        self._submit(base, task.replace(attempt=task.attempt + 1))
                        continue
                    self.records[task.step] = self._report(self._finish(base, outcome))

    def _submit(self, base: StepRecord, task) -> None:
        self.provenance.before_first_step()  # git state before any step's code runs (once)
        if self.scheduler is None:
            self.scheduler = self._make_scheduler()
        try:
            self.scheduler.submit(task)
        except Exception as exc:  # refused before it ran (a resource no worker offers, inputs not sent)
            self.records[task.step] = self._report(_failed(base, exc, base.start_ns))
            return
        self.running[task.step] = base

    def _make_scheduler(self):
        orchestrator = self.stack.orchestrator if self.stack is not None else None
        if getattr(orchestrator, "flavor", "local") == "dask":
            from artrepo.runtime.dask_scheduler import DaskScheduler

            return DaskScheduler(orchestrator, self._stack_store(), self.run_id, self._say)
        from artrepo.runtime.scheduler import make_scheduler

        return make_scheduler(self.plan.parallel, self._store())

    def _say(self, line: str) -> None:
        if self.options.report is not None:
            self.options.report(line)

    def _store(self):
        if self.store is None:
            from artrepo.runtime.task import LocalStore

            self.store = LocalStore(self.repo)
        return self.store

    # -- deciding one step ------------------------------------------------------
    def _decide(self, ps: PlannedStep):
        """A finished StepRecord (skipped, failed, cached), or (its record so far, the StepTask to run)."""
        upstream = tuple(ps.invocation.upstream)
        base = StepRecord(name=ps.name, status="skipped", cached=False, cache_key="", code_hash="",
                          parameters=ps.parameters, upstream=upstream, cacheable=ps.cacheable)
        blocked = [u for u in upstream if self.records[u].status != "completed"]
        if blocked:
            self._explain(ps.name, "skipped", f"upstream step {blocked[0]!r} did not complete")
            return base
        start = time.time_ns()
        try:
            inputs = self._resolve_inputs(ps)
            parts = cachekey.key_parts(ps.step.code_hash, ps.parameters,
                                       {k: info.record.content_hash.hex() for k, info in inputs.items()},
                                       self._output_signature(ps))
        except Exception as exc:
            return _failed(base, exc, start)
        base = base.replace(code_hash=parts["code"], key_parts=parts, cache_key=cachekey.cache_key(parts),
                            inputs={k: info.id for k, info in inputs.items()}, start_ns=start,
                            code=self.repo.write_code(ps.step.code_text) if self.provenance.enabled else "")
        if ps.cacheable:
            from artrepo.runtime.cachehit import cache_hit

            hit = cache_hit(self, ps, base)
            if hit is not None:
                return hit
        else:
            self._explain(ps.name, "off", f"caching is off ({ps.why_not_cacheable})")
        try:
            return base, self._task(ps, inputs)
        except Exception as exc:
            return _failed(base, exc, start)

    def _output_signature(self, ps: PlannedStep) -> list[tuple[str, str, str, str]]:
        """(key, the user's artifact name, custom version, materializer id) of each output, for the cache key."""
        chosen = {s.key: s.materializer for s in _outputs(ps)}
        return [(s.key, s.name or "", s.version or "",
                 chosen[s.key].materializer_id() if chosen[s.key] else "default") for s in ps.outputs]

    def _resolve_inputs(self, ps: PlannedStep) -> dict:
        out = {}
        for input_name, source in ps.invocation.artifacts.items():
            if isinstance(source, OutputHandle):
                out[input_name] = self.repo.by_id(self.records[source.step].outputs[source.key])
            elif isinstance(source, LateArtifact):
                out[input_name] = self.repo.resolve(source.reference, source.version)
            elif isinstance(source, ExternalArtifact):
                from artrepo.values import save_value

                name = source.name or f"{self.plan.pipeline}::{ps.name}::{input_name}"
                with self._store().lock:
                    out[input_name] = save_value(self.repo, source.value, name, materializer=source.materializer,
                                                 extract_metadata=source.store_artifact_metadata,
                                                 include_visualizations=source.store_artifact_visualizations)
            else:  # an ArtifactVersion (graph accepts nothing else)
                out[input_name] = self.repo.by_id(source.id)
        return out

    def _task(self, ps: PlannedStep, inputs: dict):
        from artrepo.models import default_run_name
        from artrepo.runtime.task import StepTask
        from artrepo.values import Stored

        with self._store().lock:
            stored = {k: Stored.of(self.repo, info) for k, info in inputs.items()}
        run_name = self.run_name or default_run_name(self.plan.pipeline, self.start_ns)
        return StepTask(self.run_id, self.plan.pipeline, ps.name, ps.step.entrypoint, dict(ps.invocation.parameters),
                        stored, _outputs(ps), ps.settings, run_name, resources=ps.step.resources)

    # -- a step that ran ------------------------------------------------------------
    def _finish(self, base: StepRecord, outcome) -> StepRecord:
        """Publish what the task staged; the step's final record."""
        self.run_metadata.update(outcome.run_metadata)
        base = base.replace(metadata=outcome.metadata)
        base = base.replace(executor=outcome.executor) if outcome.executor else base
        self.provenance.worker(outcome.executor.get("worker"), outcome.environment)
        try:
            saved = {name: (info.id, info.version) for name, info in
                     (self._store().publish_saved(outcome.pending).items() if outcome.pending else ())}
            published = self._store().publish(base.name, outcome.staged)
        except Exception as exc:
            return _failed(base, exc, base.start_ns)
        self.produced += [info.id for info in published.values()] + [vid for vid, _label in saved.values()]
        if outcome.error is not None:
            return base.replace(status="failed", end_ns=outcome.end_ns, error=outcome.error,
                                traceback=outcome.traceback)
        outputs = {k: info.id for k, info in published.items()}
        labels = {k: info.version for k, info in published.items()}
        for name, (version_id, label) in {**outcome.saved, **saved}.items():
            if name not in outputs:  # a version save_artifact made inside the step
                outputs[name], labels[name] = version_id, label
        return base.replace(status="completed", outputs=outputs, output_labels=labels, end_ns=time.time_ns())

    def _explain(self, step: str, outcome: str, reason: str) -> None:
        if self.options.explain:
            from artrepo.runtime.explain import Decision

            self.options.decisions[step] = Decision(step, outcome, reason)

    def _report(self, record: StepRecord) -> StepRecord:
        if self.options.report is not None:
            from artrepo.runtime.explain import step_line

            self.options.report(step_line(record, self.options.decisions.get(record.name)))
        return record


def _outputs(ps: PlannedStep) -> tuple:
    """The step's output specs with their artifact name and materializer filled in."""
    return tuple(s.replace(name=ps.artifact_names[s.key],
                           materializer=ps.step.materializer_for(s.key) or s.materializer) for s in ps.outputs)


def _failed(base: StepRecord, exc: BaseException, start: int) -> StepRecord:
    from artrepo.runtime.task import describe_failure

    message, trace = describe_failure(exc)
    return base.replace(status="failed", start_ns=start, end_ns=time.time_ns(), error=message, traceback=trace)
