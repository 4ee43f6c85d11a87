"""Records of a pipeline run: one `RunRecord` and one `StepRecord` per step."""
from __future__ import annotations

from artrepo.records import codec


class StepRecord(codec.Record):
    """What one step of a run did (`steps/<encoded step>.msgpack` in the run's tree).

    `key_parts` holds the hashed components of the cache key, so `--explain`
    can name the first one that differs from an earlier run. `code` is the
    git blob id of the code the cache key hashed (`code/<encoded step>.py` in
    the run's tree), written only when recorded.
    """

    FORMAT = codec.Schema("step_run", 1, {
        "name": str, "status": str,  # completed | failed | skipped
        "cached": bool, "cache_key": str, "code_hash": str, "key_parts": {str: str},
        "parameters": {str: codec.JSON},
        "inputs": {str: str}, "outputs": {str: str},  # name -> version id
        "output_labels": {str: str},  # output name -> version label when saved
        "upstream": [str], "cacheable": bool,
        "cached_from": (str, None),  # run id whose outputs a cached step reused
        "start_ns": (int, None), "end_ns": (int, None), "error": (str, None), "traceback": (str, None),
        "executor": {str: str},  # where it ran, when not in the run's process: orchestrator, worker, host
        "code": str,  # the blob id of the step's exact code (provenance)
        "metadata": {str: codec.JSON}},  # logged on the step run while it ran (log_metadata() in the step)
        optional={"executor", "code", "metadata"})
    __slots__ = FORMAT.attributes()

    def __init__(self, *, name: str, status: str, cached: bool, cache_key: str, code_hash: str,
                 key_parts: dict | None = None, parameters: dict | None = None, inputs: dict | None = None,
                 outputs: dict | None = None, output_labels: dict | None = None, upstream: tuple[str, ...] = (),
                 cacheable: bool = True, cached_from: str | None = None, start_ns: int | None = None,
                 end_ns: int | None = None, error: str | None = None, traceback: str | None = None,
                 executor: dict | None = None, code: str = "", metadata: dict | None = None):
        self._init(name=name, status=status, cached=cached, cache_key=cache_key, code_hash=code_hash,
                   key_parts=_dict(key_parts), parameters=_dict(parameters), inputs=_dict(inputs),
                   outputs=_dict(outputs), output_labels=_dict(output_labels), upstream=upstream,
                   cacheable=cacheable, cached_from=cached_from, start_ns=start_ns, end_ns=end_ns, error=error,
                   traceback=traceback, executor=_dict(executor), code=code, metadata=_dict(metadata))


class RunRecord(codec.Record):
    """The run as a whole (`run.msgpack`); `steps` lists step names in execution order.

    Optional (left out when empty): `run_name` (a name the user gave, e.g.
    `with_options(run_name=...)`; empty: the default name, derived when read),
    `tags`, and `metadata` its steps logged on it while it ran.
    """

    FORMAT = codec.Schema("pipeline_run", 1, {
        "run_id": str, "pipeline": str, "status": str,  # completed | failed
        "parameters": {str: codec.JSON}, "steps": [str], "start_ns": int, "end_ns": int,
        "source": (str, None),  # the file or module the pipeline came from
        "run_name": str, "tags": [str], "metadata": {str: codec.JSON}},
        optional={"run_name", "tags", "metadata"})
    __slots__ = FORMAT.attributes()

    def __init__(self, *, run_id: str, pipeline: str, status: str, parameters: dict | None = None,
                 steps: tuple[str, ...] = (), start_ns: int = 0, end_ns: int = 0, source: str | None = None,
                 run_name: str = "", tags: tuple[str, ...] = (), metadata: dict | None = None):
        self._init(run_id=run_id, pipeline=pipeline, status=status, parameters=_dict(parameters), steps=steps,
                   start_ns=start_ns, end_ns=end_ns, source=source, run_name=run_name, tags=tuple(tags),
                   metadata=_dict(metadata))


class ProvenanceRecord(codec.Record):
    """How a run (or a version saved outside a pipeline) came about (`provenance.msgpack`).

    `executed` is False for a run served entirely from cache: it ran no code,
    so only what costs nothing is recorded (environment without packages,
    user, host); the runs its steps were cached from hold the rest. `git` and
    `environment` are maps whose keys docs/format.md lists; `source` is the
    pipeline's file, or the file and line that called `save_artifact`.
    """

    FORMAT = codec.Schema("provenance", 1, {
        "executed": bool, "source": (str, None),
        "git": {str: codec.JSON},  # {} when not captured
        "environment": {str: codec.JSON},
        "user": (str, None), "host": (str, None)})
    __slots__ = FORMAT.attributes(git="git_state")  # `.git` is gitdb's handle everywhere else

    def __init__(self, *, executed: bool, source: str | None = None, git_state: dict | None = None,
                 environment: dict | None = None, user: str | None = None, host: str | None = None):
        self._init(executed=executed, source=source, git_state=_dict(git_state),
                   environment=_dict(environment), user=user, host=host)


def _dict(value: dict | None) -> dict:
    return {} if value is None else value
