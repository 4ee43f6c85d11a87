"""Chosen metadata across the versions of an artifact, or across the runs of a pipeline, newest first.

    table = compare_versions(repo, "model", ["accuracy", "loss"])
    print(table)                 # a text table
    table.rows[0]["accuracy"]    # the newest version's accuracy

A key names a metadata entry (`metrics.accuracy` reaches into a group). For
runs it is looked up in the run's parameters, then in the metadata of the
run's outputs (steps in order), then in the steps' parameters (`step.key` or
a bare key); a key found nowhere is None. Without keys: for versions, the
numeric metadata the user logged; for runs, the parameters that differ
between the runs and the numeric metadata of their outputs.
"""
from __future__ import annotations

from artrepo.diff import DATA_KEYS, flatten, is_number, numeric_keys
from artrepo.errors import NotFoundError
from artrepo.models import ArtifactVersion
from artrepo.queries import list_runs

MAX_DEFAULT_KEYS = 12


class Comparison:
    """A table: `.kind` (`artifact` or `pipeline`), `.name`, `.keys` and `.rows` (dicts, newest first).

    Each row has `id`, `label`, `created` (UTC datetime), and one entry per key.
    """

    def __init__(self, kind: str, name: str, keys: list[str], rows: list[dict]):
        self.kind, self.name, self.keys, self.rows = kind, name, keys, rows

    def __repr__(self) -> str:
        return f"Comparison({self.kind} {self.name!r}, {len(self.rows)} rows, keys={self.keys})"

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_dict(self) -> dict:
        """The `artrepo compare --json` shape: {kind, name, keys, rows: [{id, label, created, values}]}."""
        return {"kind": self.kind, "name": self.name, "keys": self.keys,
                "rows": [{"id": r["id"], "label": r["label"], "created": r["created"].isoformat(),
                          "values": {k: r[k] for k in self.keys}} for r in self.rows]}

    def to_pandas(self):
        """The table as a pandas DataFrame indexed by label."""
        import pandas as pd

        return pd.DataFrame([{k: r[k] for k in self.keys} for r in self.rows],
                            index=[r["label"] for r in self.rows], columns=self.keys)

    def __str__(self) -> str:
        header = ["version" if self.kind == "artifact" else "run", "created", *self.keys]
        body = [[r["label"], r["created"].strftime("%Y-%m-%d %H:%M:%S"), *(cell_text(r[k]) for k in self.keys)]
                for r in self.rows]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *body])


def cell_text(value) -> str:
    """A value in a text table: None as `-`, floats to 6 significant digits, text as it is, the rest as JSON."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _split(keys) -> list[str] | None:
    if keys is None:
        return None
    if isinstance(keys, str):
        keys = keys.split(",")
    return [k.strip() for k in keys if k and k.strip()]


def compare_versions(repo, name: str, keys=None, limit: int | None = None) -> Comparison:
    """Metadata `keys` (a list or "a,b") across the versions of artifact `name`, newest first."""
    infos = repo.versions(name)
    if not infos:
        repo.latest(name)  # the NotFoundError with a suggestion
    versions = [ArtifactVersion(repo, i) for i in infos[:limit]]
    metadata = [flatten(av.run_metadata) for av in versions]
    chosen = _split(keys)
    if chosen is None:
        chosen = numeric_keys(metadata, automatic=False)[:MAX_DEFAULT_KEYS]
    rows = [{"id": av.id, "label": f"{av.name}:{av.version}", "created": av.created,
             **{k: m.get(k) for k in chosen}} for av, m in zip(versions, metadata)]
    return Comparison("artifact", name, chosen, rows)


def compare_runs(repo, pipeline: str, keys=None, limit: int | None = None) -> Comparison:
    """Parameters and output metadata `keys` across the runs of `pipeline`, newest first."""
    runs = list_runs(repo, pipeline, limit)
    if not runs:
        raise NotFoundError(f"no runs of pipeline {pipeline!r}")
    sources = [_run_values(run) for run in runs]
    chosen = _split(keys)
    if chosen is None:
        params = sorted({k for r in runs for k in r.parameters})
        varying = [k for k in params if len({repr(r.parameters.get(k)) for r in runs}) > 1]
        numeric = sorted({k for _, outputs, _ in sources for k, v in outputs.items() if is_number(v)})
        chosen = (varying + [k for k in numeric if k not in varying])[:MAX_DEFAULT_KEYS]
    rows = [{"id": run.id, "label": run.id[:12], "created": run.created, "status": run.status,
             **{k: _lookup(src, k) for k in chosen}} for run, src in zip(runs, sources)]
    return Comparison("pipeline", pipeline, chosen, rows)


def _run_values(run) -> tuple[dict, dict, dict]:
    """(run parameters, outputs' metadata with the first step's value winning, step parameters)."""
    outputs: dict = {}
    step_params: dict = {}
    for step in run.steps.values():
        for av in step.outputs.values():
            for k, v in flatten({k: v for k, v in av.run_metadata.items() if k not in DATA_KEYS}).items():
                outputs.setdefault(k, v)
        for k, v in step.parameters.items():
            step_params[f"{step.name}.{k}"] = v
            step_params.setdefault(k, v)
    return flatten(run.parameters), outputs, step_params


def _lookup(sources: tuple[dict, dict, dict], key: str):
    for source in sources:
        if key in source:
            return source[key]
    return None


def compare(repo, name: str, keys=None, limit: int | None = None, pipeline: bool = False) -> Comparison:
    """`artrepo compare NAME`: an artifact's versions, else (or with `pipeline`) a pipeline's runs."""
    if not pipeline and _valid_name(name) and repo.version_refs(name):
        return compare_versions(repo, name, keys, limit)
    if pipeline or name in repo.pipeline_heads():
        return compare_runs(repo, name, keys, limit)
    from artrepo.repository.versions import suggest

    raise NotFoundError(f"no artifact or pipeline named {name!r}"
                        f"{suggest(name, [*repo.names(), *repo.pipeline_heads()])}")


def _valid_name(name: str) -> bool:
    from artrepo import names
    from artrepo.errors import InvalidNameError

    try:
        names.validate_name(name)
        return True
    except InvalidNameError:
        return False
