"""Listings with ZenML's filters, `sort_by` and pages: versions, artifacts, pipelines and runs.

A filter value is `text` (equal) or `OPERATOR:text` (equals, contains,
startswith, endswith), as ZenML's; ids also match by prefix. `sort_by` is
`FIELD`, `asc:FIELD` or `desc:FIELD`. A ZenML filter artrepo does not
implement is a one-line error, never ignored.

    list_versions(repo, name="iris", tags=["approved"], sort_by="desc:created", size=10)
"""
from __future__ import annotations

from artrepo.errors import InvalidNameError, NotFoundError, UserError
from artrepo.listing import Page, matches
from artrepo.models import Artifact, ArtifactVersion, NamedPipeline, PipelineRun
from artrepo.records.artifact import ArtifactType
from artrepo.repository import label_key
from artrepo.tags import tag_names
from artrepo.values import artifact_type_of

# field -> sort key of an ArtifactVersion
_VERSION_FIELDS = {
    "created": lambda v: v.record.created_ns, "name": lambda v: v.name, "artifact": lambda v: v.name,
    "version": lambda v: label_key(v.version), "type": lambda v: v.record.artifact_type,
    "size": lambda v: v.size, "id": lambda v: v.id, "content_hash": lambda v: v.content_hash,
    "materializer": lambda v: v.materializer, "data_type": lambda v: v.data_type,
}
_RUN_FIELDS = {"created": lambda r: r.record.start_ns, "start_time": lambda r: r.record.start_ns,
               "end_time": lambda r: r.record.end_ns, "name": lambda r: r.name, "status": lambda r: r.status,
               "pipeline": lambda r: r.record.pipeline, "id": lambda r: r.id}


def refuse(call: str, unsupported: dict) -> None:
    """A one-line error for the first ZenML filter given (not None) that artrepo does not implement."""
    given = sorted(k for k, v in unsupported.items() if v is not None and v is not False)
    if given:
        raise UserError(f"{call}: the filter {given[0]!r} is not supported by artrepo")


def sort_and_page(items: list, fields: dict, sort_by: str, page: int, size: int | None, call: str) -> Page:
    direction, sep, field = sort_by.partition(":")
    if not sep:
        direction, field = "asc", sort_by
    if direction not in ("asc", "desc") or field not in fields:
        raise UserError(f"{call}: cannot sort by {sort_by!r}; use FIELD, asc:FIELD or desc:FIELD with FIELD "
                        f"one of {', '.join(fields)}")
    items.sort(key=fields[field], reverse=direction == "desc")
    return Page.of(items, page, size)


def _tag_queries(tag, tags) -> list[str]:
    return [*tag_names(tag), *tag_names(tags)]


def _id_matches(value: str, query) -> bool:
    if query is None:
        return True
    text = str(query)
    return value.startswith(text.lower()) if ":" not in text else matches(value, text)


def list_versions(repo, *, name=None, version=None, artifact=None, type=None, tag=None, tags=None, id=None,
                  materializer=None, data_type=None, pipeline_run=None, sort_by: str = "desc:created",
                  page: int = 1, size: int | None = None) -> Page:
    """Versions matching every filter given, sorted, one page of them."""
    wanted_type = None if type is None else _artifact_type(type)
    wanted_tags = _tag_queries(tag, tags)
    run_id = None
    if pipeline_run is not None:
        run_id = get_run(repo, pipeline_run).id
    exact = [q for q in (name, artifact) if q is not None and ":" not in str(q)]
    candidates = exact[:1] if exact else repo.names()
    out = []
    with repo.snapshot():
        for n in candidates:
            if not (matches(n, name) and matches(n, artifact)):
                continue
            for info in _versions(repo, n):
                av = ArtifactVersion(repo, info)
                if not (matches(av.version, version) and _id_matches(av.id, id)
                        and matches(av.materializer, materializer) and matches(av.data_type, data_type)):
                    continue
                if wanted_type is not None and av.type is not wanted_type:
                    continue
                if run_id is not None and (av.record.producer or {}).get("run_id") != run_id:
                    continue
                if wanted_tags and not all(any(matches(t, q) for t in av.tags) for q in wanted_tags):
                    continue
                out.append(av)
    return sort_and_page(out, _VERSION_FIELDS, sort_by, page, size, "list_artifact_versions")


def _versions(repo, name: str) -> list:
    """The versions of `name`, none for a name no artifact can have (a filter, not a reference)."""
    try:
        return repo.versions(name)
    except InvalidNameError:
        return []


def _artifact_type(value):
    try:
        return ArtifactType(getattr(value, "value", value))  # ZenML's value: "DataArtifact"
    except ValueError:
        return artifact_type_of(value)  # a member's name: "DATA", "model"


def list_artifacts(repo, *, name=None, tag=None, tags=None, sort_by: str = "name", page: int = 1,
                   size: int | None = None) -> Page:
    """Artifacts (names with versions) matching the filters; their own tags are matched."""
    wanted_tags = _tag_queries(tag, tags)
    out = []
    with repo.snapshot():
        for n in repo.names():
            if not matches(n, name):
                continue
            art = Artifact(repo, n)
            if wanted_tags and not all(any(matches(t, q) for t in art.tags) for q in wanted_tags):
                continue
            out.append(art)
    fields = {"name": lambda a: a.name, "created": lambda a: a.latest.record.created_ns}
    return sort_and_page(out, fields, sort_by, page, size, "list_artifacts")


def list_pipeline_runs(repo, *, pipeline=None, name=None, status=None, tag=None, tags=None,
                       sort_by: str = "desc:created", page: int = 1, size: int | None = None) -> Page:
    exact = pipeline is not None and ":" not in str(pipeline)
    runs = list_runs(repo, str(pipeline) if exact else None)
    wanted_tags = _tag_queries(tag, tags)
    out = [r for r in runs if matches(r.record.pipeline, pipeline) and matches(r.name, name)
           and matches(r.status, status) and all(any(matches(t, q) for t in r.record.tags) for q in wanted_tags)]
    return sort_and_page(out, _RUN_FIELDS, sort_by, page, size, "list_pipeline_runs")


def list_pipelines(repo, *, name=None, sort_by: str = "name", page: int = 1, size: int | None = None) -> Page:
    out = [NamedPipeline(repo, n) for n in sorted(repo.pipeline_heads()) if matches(n, name)]
    return sort_and_page(out, {"name": str}, sort_by, page, size, "list_pipelines")


def get_pipeline(repo, name: str) -> NamedPipeline:
    """A pipeline that has runs, by name."""
    known = repo.pipeline_heads()
    if name not in known:
        from artrepo.repository.versions import suggest

        raise NotFoundError(f"no pipeline named {name!r}{suggest(name, sorted(known))}")
    return NamedPipeline(repo, name)


def get_run(repo, name_id_or_prefix) -> PipelineRun:
    """A run by run id or run commit id (unique prefix of 4+ hex characters), name (the newest) or `.id`."""
    text = str(getattr(name_id_or_prefix, "id", name_id_or_prefix))
    try:
        _run_id, commit = repo.find_run(text)
    except NotFoundError:
        for run in list_runs(repo):
            if run.name == text:
                return run
        raise
    return PipelineRun(repo, commit, repo.read_run(commit))


def list_runs(repo, pipeline: str | None = None, limit: int | None = None) -> list[PipelineRun]:
    """Recorded runs, newest first (optionally of one pipeline, at most `limit`)."""
    if pipeline is not None:
        commits = list(repo.pipeline_history(pipeline, limit=limit if limit is not None else 10**9))
    else:
        commits = _newest_commits(repo, limit)
    runs = [PipelineRun(repo, c, repo.read_run(c)) for c in commits]
    runs.sort(key=lambda r: (r.record.start_ns, r.id), reverse=True)
    return runs if limit is None else runs[:limit]


def _newest_commits(repo, limit: int | None) -> list[str]:
    if limit == 0:
        return []
    if limit is not None and repo.pipeline_heads():
        return _newest_from_chains(repo, limit)
    # Commit times (seconds) pick the candidates without decoding every run record.
    timed = sorted(((repo.objects.commit(c).commit_time, c) for c in set(repo.run_ids().values())),
                   reverse=True)
    if limit is None or len(timed) <= limit:
        return [c for _, c in timed]
    cutoff = timed[limit - 1][0] if limit > 0 else None
    return [c for t, c in timed if cutoff is not None and t >= cutoff]


def _newest_from_chains(repo, limit: int) -> list[str]:
    """The newest `limit` runs by merging the per-pipeline chains (reads about `limit` commits).

    The chains are derived refs; a run outside every chain (its pipeline ref
    not yet rebuilt) shows up in the unlimited listing only.
    """
    out: list[str] = []
    cutoff = None
    for commit, time in repo.walk_runs(set(repo.pipeline_heads().values())):
        if cutoff is not None and time < cutoff:
            break
        out.append(commit)
        if len(out) == limit:
            cutoff = time  # keep equal-second runs: the caller sorts them exactly
    return out
