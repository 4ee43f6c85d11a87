"""Records of a pipeline run: one `RunRecord` and one `StepRecord` per step."""
from __future__ import annotations

from artrepo.plain import Frozen
from artrepo.records import codec


class StepRecord(Frozen):
    """What one step of a run did (`steps/<encoded step>.msgpack` in the run's tree).

    `key_parts` holds the hashed components of the cache key, so `--explain`
    can name the first one that differs from an earlier run.
    """

    SCHEMA = 1
    __slots__ = ("name", "status", "cached", "cache_key", "code_hash", "key_parts", "parameters", "inputs",
                 "outputs", "output_labels", "upstream", "cacheable", "cached_from", "start_ns", "end_ns",
                 "error", "traceback")
    name: str
    status: str  # completed | failed | skipped
    cached: bool
    cache_key: str
    code_hash: str
    key_parts: dict
    parameters: dict
    inputs: dict  # input name -> version id
    outputs: dict  # output name -> version id
    output_labels: dict  # output name -> version label when saved
    upstream: tuple[str, ...]
    cacheable: bool
    cached_from: str | None  # run id whose outputs a cached step reused
    start_ns: int | None
    end_ns: int | None
    error: str | None
    traceback: str | None

    def __init__(self, *, name: str, status: str, cached: bool, cache_key: str, code_hash: str,
                 key_parts: dict | None = None, parameters: dict | None = None, inputs: dict | None = None,
                 outputs: dict | None = None, output_labels: dict | None = None, upstream: tuple[str, ...] = (),
                 cacheable: bool = True, cached_from: str | None = None, start_ns: int | None = None,
                 end_ns: int | None = None, error: str | None = None, traceback: str | None = None):
        self._init(name=name, status=status, cached=cached, cache_key=cache_key, code_hash=code_hash,
                   key_parts=_dict(key_parts), parameters=_dict(parameters), inputs=_dict(inputs),
                   outputs=_dict(outputs), output_labels=_dict(output_labels), upstream=upstream,
                   cacheable=cacheable, cached_from=cached_from, start_ns=start_ns, end_ns=end_ns, error=error,
                   traceback=traceback)

    def to_msgpack(self) -> bytes:
        return codec.encode({
            "kind": "step_run", "schema": self.SCHEMA, "name": self.name, "status": self.status,
            "cached": self.cached, "cache_key": self.cache_key, "code_hash": self.code_hash,
            "key_parts": self.key_parts, "parameters": self.parameters, "inputs": self.inputs,
            "outputs": self.outputs, "output_labels": self.output_labels, "upstream": list(self.upstream), "cacheable": self.cacheable,
            "cached_from": self.cached_from, "start_ns": self.start_ns, "end_ns": self.end_ns,
            "error": self.error, "traceback": self.traceback,
        })

    @classmethod
    def from_msgpack(cls, data: bytes) -> "StepRecord":
        d = codec.decode(data, "step_run", cls.SCHEMA)
        return cls(
            name=d["name"], status=d["status"], cached=d["cached"], cache_key=d["cache_key"],
            code_hash=d["code_hash"], key_parts=d["key_parts"], parameters=d["parameters"],
            inputs=d["inputs"], outputs=d["outputs"], output_labels=d["output_labels"], upstream=tuple(d["upstream"]),
            cacheable=d["cacheable"], cached_from=d["cached_from"], start_ns=d["start_ns"],
            end_ns=d["end_ns"], error=d["error"], traceback=d["traceback"],
        )


class RunRecord(Frozen):
    """The run as a whole (`run.msgpack`); `steps` lists step names in execution order."""

    SCHEMA = 1
    __slots__ = ("run_id", "pipeline", "status", "parameters", "steps", "start_ns", "end_ns", "source")
    run_id: str
    pipeline: str
    status: str  # completed | failed
    parameters: dict
    steps: tuple[str, ...]
    start_ns: int
    end_ns: int
    source: str | None  # file or module the pipeline came from

    def __init__(self, *, run_id: str, pipeline: str, status: str, parameters: dict | None = None,
                 steps: tuple[str, ...] = (), start_ns: int = 0, end_ns: int = 0, source: str | None = None):
        self._init(run_id=run_id, pipeline=pipeline, status=status, parameters=_dict(parameters), steps=steps,
                   start_ns=start_ns, end_ns=end_ns, source=source)

    def to_msgpack(self) -> bytes:
        return codec.encode({
            "kind": "pipeline_run", "schema": self.SCHEMA, "run_id": self.run_id, "pipeline": self.pipeline,
            "status": self.status, "parameters": self.parameters, "steps": list(self.steps),
            "start_ns": self.start_ns, "end_ns": self.end_ns, "source": self.source,
        })

    @classmethod
    def from_msgpack(cls, data: bytes) -> "RunRecord":
        d = codec.decode(data, "pipeline_run", cls.SCHEMA)
        return cls(run_id=d["run_id"], pipeline=d["pipeline"], status=d["status"], parameters=d["parameters"],
                   steps=tuple(d["steps"]), start_ns=d["start_ns"], end_ns=d["end_ns"], source=d["source"])


def _dict(value: dict | None) -> dict:
    return {} if value is None else value
