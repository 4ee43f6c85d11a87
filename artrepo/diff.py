"""What changed between artifact versions, or between pipeline runs, from records alone (no data is loaded).

Two or more items are put side by side: every row holds one value per item
and a change mark computed over all of them; what only makes sense against
one item (bytes shared, schema changes, code diffs) is computed against the
first (the baseline). `artrepo diff A B` prints two items (`pairwise` gives
the `--json` shape), the dashboard's compare page any number.

    doc = diff_versions(repo, [ArtifactVersion(...), ArtifactVersion(...)])
    doc = diff_runs(repo, [get_run(repo, "3f2a"), get_run(repo, "9c1e")])
"""
from __future__ import annotations

import numbers

from artrepo.errors import NotFoundError, UserError
from artrepo.models import ArtifactVersion, PipelineRun
from artrepo.queries import get_run

MISSING = None  # a row's value where an item has no such key (rows keep `present` beside `values`)
DATA_KEYS = ("shape", "dtype", "columns", "min", "max", "mean", "std", "null_count", "statistics_sample")
STATISTICS = ("min", "max", "mean", "std")


# -- references ----------------------------------------------------------------------------
def resolve(repo, text: str) -> ArtifactVersion | PipelineRun:
    """A version reference (name, name:version, name@alias, id prefix) or a run id prefix."""
    try:
        return ArtifactVersion(repo, repo.resolve(text))
    except UserError as exc:
        version_error = exc
    hexadecimal = len(text) >= 4 and all(c in "0123456789abcdef" for c in text.lower())
    if not hexadecimal:
        raise version_error
    try:
        return get_run(repo, text)
    except NotFoundError:
        raise NotFoundError(f"no artifact version or pipeline run matching {text!r}") from None


class MixedReferencesError(UserError):
    """`diff` was given a version and a run: there is nothing to compare between them."""


def resolve_pair(repo, a: str, b: str) -> tuple:
    """Two versions or two runs; a version and a run is a MixedReferencesError."""
    first, second = resolve(repo, a), resolve(repo, b)
    if isinstance(first, PipelineRun) != isinstance(second, PipelineRun):
        run, version = (a, b) if isinstance(first, PipelineRun) else (b, a)
        raise MixedReferencesError(f"cannot diff a pipeline run ({run}) with an artifact version ({version}): "
                                   "give two versions or two runs")
    return first, second


def diff_items(repo, a: str, b: str) -> dict:
    """The two-item diff (`pairwise`) of two version references or two run ids."""
    first, second = resolve_pair(repo, a, b)
    if isinstance(first, PipelineRun):
        return pairwise(diff_runs(repo, [first, second]))
    return pairwise(diff_versions(repo, [first, second]))


# -- rows ---------------------------------------------------------------------------------------
def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def numeric_keys(metadata: list[dict], automatic: bool = True) -> list[str]:
    """Keys with a number in some version: the user's (sorted), then artrepo's own (statistics, size) if `automatic`."""
    found = {k for m in metadata for k, v in flatten(m).items() if is_number(v)}
    auto = {k for k in found if k.split(".")[0] in DATA_KEYS or k == "storage_size"}
    return sorted(found - auto) + (sorted(auto) if automatic else [])


def row(key: str, values: list, present: list[bool] | None = None) -> dict:
    """One compared key: `values` (one per item), `present`, `change` (same, changed, added, removed), deltas."""
    present = present if present is not None else [True] * len(values)
    known = [v for v, p in zip(values, present) if p]
    if all(present) and all(v == values[0] for v in values):
        change = "same"
    elif len(values) == 2 and not present[0]:
        change = "added"
    elif len(values) == 2 and not present[1]:
        change = "removed"
    else:
        change = "changed" if known else "same"
    out = {"key": key, "values": values, "present": present, "change": change}
    if present[0] and is_number(values[0]) and change == "changed":
        out["deltas"] = [v - values[0] if p and is_number(v) else None for v, p in zip(values, present)]
    return out


def rows_of(maps: list[dict], keys=None, changed_only: bool = False) -> list[dict]:
    """Rows for the union of the maps' keys (sorted), or for those of `keys` any map holds, in that order."""
    keys = sorted({k for m in maps for k in m}) if keys is None else [k for k in keys if any(k in m for m in maps)]
    out = [row(k, [m.get(k, MISSING) for m in maps], [k in m for m in maps]) for k in keys]
    return [r for r in out if r["change"] != "same"] if changed_only else out


def flatten(metadata: dict, prefix: str = "") -> dict:
    """Nested metadata groups as dotted keys: {"metrics": {"acc": 1}} -> {"metrics.acc": 1}."""
    out = {}
    for key, value in metadata.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- versions -----------------------------------------------------------------------------------
def version_head(av: ArtifactVersion) -> dict:
    return {"id": av.id, "name": av.name, "version": av.version, "label": f"{av.name}:{av.version}",
            "created_ns": av.record.created_ns}


def _data_kind(av: ArtifactVersion, metadata: dict) -> str | None:
    if "shape" not in metadata:
        return None
    if isinstance(metadata.get("dtype"), dict):
        return "dataframe"
    return "series" if av.materializer.startswith("pandas") else "array"


def diff_versions(repo, versions: list[ArtifactVersion]) -> dict:
    """Versions side by side: the version, tags, metadata, data summary; bytes and schema against the first."""
    metadata = [av.run_metadata for av in versions]
    kinds = [_data_kind(av, m) for av, m in zip(versions, metadata)]
    has_data = any(kinds)
    user = [flatten({k: v for k, v in m.items() if k != "storage_size" and not (has_data and k in DATA_KEYS)})
            for m in metadata]
    version = [{"name": av.name, "version": av.version, "type": av.type.name, "materializer": av.materializer,
                "data type": av.data_type, "origin": av.record.origin, "size": av.size,
                "content hash": av.content_hash,
                "producer": (f"{av.record.producer.get('step')} in run {av.record.producer.get('run_id', '')[:12]}"
                             if av.record.producer else None)} for av in versions]
    tags = [sorted(av.tags) for av in versions]
    doc = {
        "kind": "versions",
        "items": [version_head(av) for av in versions],
        "same_content": len({av.content_hash for av in versions}) == 1,
        "sections": [
            {"title": "version", "rows": rows_of(version, list(version[0]))},
            {"title": "tags", "rows": [row("tags", tags)]},
            {"title": "metadata", "rows": rows_of(user)},
        ],
        "tags": [{"added": sorted(set(t) - set(tags[0])), "removed": sorted(set(tags[0]) - set(t))} for t in tags],
        "storage": [shared_storage(versions[0], av) for av in versions],
    }
    if has_data:
        doc["data"] = {"kinds": kinds, "sampled": [m.get("statistics_sample") for m in metadata],
                       "schema": [schema_change(metadata[0], m) for m in metadata]}
        doc["sections"].append({"title": "data", "rows": data_rows(metadata, kinds)})
    return doc


def shared_storage(a: ArtifactVersion, b: ArtifactVersion) -> dict:
    """Chunks (and their bytes) the data files of `b` share with those of `a`, from the two manifests."""
    def chunks(av):
        return {cid: n for f in av.manifest().files for cid, n in f.chunks}

    ca, cb = chunks(a), chunks(b)
    shared = ca.keys() & cb.keys()
    return {"chunks": len(cb), "shared_chunks": len(shared), "shared_bytes": sum(cb[c] for c in shared),
            "new_bytes": sum(n for c, n in cb.items() if c not in shared), "bytes": sum(cb.values())}


def schema_change(a: dict, b: dict) -> dict:
    """Columns added, removed and retyped from metadata `a` to `b` (DataFrames' `dtype` maps)."""
    da, db = a.get("dtype"), b.get("dtype")
    if not isinstance(da, dict) or not isinstance(db, dict):
        return {"added": [], "removed": [], "retyped": []}
    order = list(b.get("columns") or db) + [c for c in (a.get("columns") or da) if c not in db]
    return {"added": [c for c in order if c in db and c not in da],
            "removed": [c for c in order if c in da and c not in db],
            "retyped": [{"column": c, "from": da[c], "to": db[c]} for c in order if c in da and c in db
                        and da[c] != db[c]]}


def data_rows(metadata: list[dict], kinds: list) -> list[dict]:
    """shape, dtype, rows and columns, then each statistic (per column for frames), then null counts."""
    out = [row("shape", [m.get("shape") for m in metadata], ["shape" in m for m in metadata])]
    if any(k in ("dataframe", "series") for k in kinds):
        rows = [m["shape"][0] if m.get("shape") else MISSING for m in metadata]
        out.append(row("rows", rows, [r is not MISSING for r in rows]))
    if any(k == "dataframe" for k in kinds):
        columns = [len(m["dtype"]) if isinstance(m.get("dtype"), dict) else MISSING for m in metadata]
        out.append(row("columns", columns, [c is not MISSING for c in columns]))
    else:
        out.append(row("dtype", [m.get("dtype") for m in metadata], ["dtype" in m for m in metadata]))
    for stat in STATISTICS:
        per = [m.get(stat) for m in metadata]
        if any(isinstance(v, dict) for v in per):
            for r in rows_of([v if isinstance(v, dict) else {} for v in per], keys=_columns(metadata, stat)):
                out.append({**r, "key": f"{stat}({r['key']})"})
        elif any(v is not None for v in per):
            out.append(row(stat, per, [stat in m for m in metadata]))
    nulls = [m.get("null_count") for m in metadata]
    if any(isinstance(v, dict) for v in nulls):
        columns = sorted({c for v in nulls if isinstance(v, dict) for c in v})
        out += [row(f"nulls({c})", [v.get(c, 0) if isinstance(v, dict) else MISSING for v in nulls],
                    [isinstance(v, dict) for v in nulls]) for c in columns]
    elif any(isinstance(v, int) for v in nulls):
        out.append(row("nulls", nulls, [isinstance(v, int) for v in nulls]))
    return out


def _columns(metadata: list[dict], stat: str) -> list[str]:
    seen: dict[str, None] = {}
    for m in metadata:
        for c in (m.get(stat) or {}) if isinstance(m.get(stat), dict) else ():
            seen.setdefault(c)
    return list(seen)


# -- runs --------------------------------------------------------------------------------------
def run_head(run: PipelineRun) -> dict:
    return {"id": run.id, "pipeline": run.pipeline, "status": run.status, "created_ns": run.record.start_ns,
            "commit": run.commit, "label": f"{run.pipeline} {run.id[:12]}"}


def _step_state(step) -> str:
    return "absent" if step is None else ("cached" if step.cached else step.status)


def diff_runs(repo, runs: list[PipelineRun]) -> dict:
    """Runs side by side: parameters, git, environment, packages, steps (state, code), outputs; code
    diffs against the first run."""
    prov = [r.provenance for r in runs]
    steps = [r.steps for r in runs]
    names = list(dict.fromkeys(n for s in steps for n in s))
    run_rows = [{"pipeline": r.pipeline, "status": r.status, "duration (s)": round(r.duration, 3),
                 "steps": len(s), "cached": sum(x.cached for x in s.values()),
                 "executed": sum(not x.cached and x.status in ("completed", "failed") for x in s.values())}
                for r, s in zip(runs, steps)]
    doc = {
        "kind": "runs",
        "items": [run_head(r) for r in runs],
        "sections": [
            {"title": "run", "rows": rows_of(run_rows, list(run_rows[0]))},
            {"title": "parameters", "rows": rows_of([r.parameters for r in runs])},
            {"title": "git", "rows": rows_of([_git_summary(p) for p in prov], list(_GIT_KEYS))},
            {"title": "environment", "rows": rows_of([_environment(p) for p in prov], list(_ENV_KEYS))},
            {"title": "packages", "rows": rows_of([p.packages if p else {} for p in prov], changed_only=True)},
            {"title": "steps", "rows": [row(n, [_step_state(s.get(n)) for s in steps]) for n in names]},
            {"title": "step code", "rows": [row(n, [_code_id(s.get(n)) for s in steps]) for n in names]},
            {"title": "step parameters", "rows": _step_parameters(names, steps)},
            {"title": "outputs", "rows": _outputs(names, steps)},
        ],
        "provenance": [p is not None and p.executed for p in prov],
        "code_diffs": [_code_diffs(names, steps[0], s, runs[0], r) for s, r in zip(steps, runs)],
        "output_metadata": _output_metadata(names, steps),
    }
    doc["packages_same"] = len(set.intersection(*[set((p.packages if p else {}).items()) for p in prov]))
    return doc


_GIT_KEYS = {"state": "state", "commit": "commit", "branch": "branch", "dirty": "dirty",
             "files changed": "files_changed", "lines added": "lines_added", "lines removed": "lines_removed",
             "diff bytes": "diff_bytes", "diff cut": "diff_cut"}
_ENV_KEYS = ("python", "implementation", "platform", "artrepo", "user", "host", "source")


def _git_summary(prov) -> dict:
    if prov is None:
        return {"state": "not recorded"}
    if not prov.executed:
        return {"state": "not captured: every step was cached"}
    git = prov.git_state
    out = {label: git[key] for label, key in _GIT_KEYS.items() if key in git}
    if git.get("state") != "git":
        out["state"] = f"no git ({git.get('reason', 'unknown')})"
    return out


def _environment(prov) -> dict:
    if prov is None:
        return {}
    env = {k: prov.environment[k] for k in _ENV_KEYS[:4] if k in prov.environment}
    env.update((k, v) for k, v in (("user", prov.user), ("host", prov.host), ("source", prov.source)) if v)
    return env


def _code_id(step) -> str | None:
    return step.code_id if step is not None else None


def _step_parameters(names: list[str], steps: list[dict]) -> list[dict]:
    out = []
    for n in names:
        maps = [s[n].parameters if n in s else {} for s in steps]
        for r in rows_of(maps, changed_only=True):
            r["key"] = f"{n}.{r['key']}"
            out.append(r)
    return out


def _outputs(names: list[str], steps: list[dict]) -> list[dict]:
    """One row per step output: the version each run used (`name:version`), changed when the ids differ."""
    out = []
    for n in names:
        keys = list(dict.fromkeys(k for s in steps if n in s for k in s[n].record.outputs))
        for key in keys:
            ids = [s[n].record.outputs.get(key) if n in s else None for s in steps]
            labels = [_label(s[n], key) if i else MISSING for s, i in zip(steps, ids)]
            out.append({**row(f"{n}.{key}", ids, [i is not None for i in ids]), "labels": labels, "step": n,
                        "output": key})
    return out


def _label(step, key: str) -> str:
    av = step.outputs[key]
    return f"{av.name}:{av.version}"


def _output_metadata(names: list[str], steps: list[dict]) -> list[dict]:
    """For each output whose version differs between runs: its metadata side by side (changed keys)."""
    out = []
    for r in _outputs(names, steps):
        if r["change"] == "same":
            continue
        step, key = r["step"], r["output"]
        metas = [flatten({k: v for k, v in s[step].outputs[key].run_metadata.items() if k not in DATA_KEYS})
                 if r["present"][i] else {} for i, s in enumerate(steps)]
        out.append({"output": r["key"], "labels": r["labels"], "rows": rows_of(metas, changed_only=True)})
    return out


def _code_diffs(names: list[str], base: dict, other: dict, base_run, other_run) -> list[dict]:
    """A unified diff of each step whose code differs from the baseline run's."""
    import difflib

    out = []
    for n in names:
        a, b = base.get(n), other.get(n)
        if a is None or b is None or a.code_id == b.code_id:
            continue
        if not a.code_id or not b.code_id:
            out.append({"step": n, "diff": None, "note": "code not recorded in one of the runs"})
            continue
        lines = difflib.unified_diff(a.code.splitlines(keepends=True), b.code.splitlines(keepends=True),
                                     f"{n} (run {base_run.id[:12]})", f"{n} (run {other_run.id[:12]})")
        out.append({"step": n, "diff": "".join(lines), "note": None})
    return out


def grouped_code_diffs(diffs: list[dict]) -> list[tuple[list[str], str | None, str | None]]:
    """(steps, diff without its ---/+++ lines, note) per distinct change: steps that changed alike share one."""
    grouped: dict[tuple, list[str]] = {}
    for d in diffs:
        hunks = "\n".join(d["diff"].splitlines()[2:]) + "\n" if d["diff"] is not None else None
        grouped.setdefault((hunks, d["note"]), []).append(d["step"])
    return [(steps, hunks, note) for (hunks, note), steps in grouped.items()]


# -- two items, for `artrepo diff --json` -----------------------------------------------------------
def pairwise(doc: dict) -> dict:
    """The two-item document: `a` and `b` instead of lists, each row {key, a, b, change[, delta]}."""
    def pair(r):
        out = {"key": r["key"], "change": r["change"]}
        for side, i in (("a", 0), ("b", 1)):
            if r["present"][i]:
                out[side] = r["values"][i]
        if r.get("deltas"):
            out["delta"] = r["deltas"][1]
        if "labels" in r:
            out["labels"] = {"a": r["labels"][0], "b": r["labels"][1]}
            out["step"], out["output"] = r["step"], r["output"]
        return out

    out = {"kind": doc["kind"], "a": doc["items"][0], "b": doc["items"][1]}
    for section in doc["sections"]:
        out[section["title"].replace(" ", "_")] = [pair(r) for r in section["rows"]]
    if doc["kind"] == "versions":
        out.update(same_content=doc["same_content"], storage=doc["storage"][1], tags_changed=doc["tags"][1])
        if "data" in doc:
            out["schema"] = doc["data"]["schema"][1]
            out["statistics_sample"] = {"a": doc["data"]["sampled"][0], "b": doc["data"]["sampled"][1]}
    else:
        out.update(code_diffs=doc["code_diffs"][1], packages_same=doc["packages_same"],
                   output_metadata=[{**m, "rows": [pair(r) for r in m["rows"]]} for m in doc["output_metadata"]])
    return out
