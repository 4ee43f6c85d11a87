"""Which old versions `gc --keep-last N` / `--older-than D` may drop, and dropping them.

A version is kept when any rule keeps it: it is among the newest N of its
name, or younger than D; it is the latest version or holds the highest
number of its name (numbers are never reused); an alias points at it. Unless
forced, a version is also kept when a kept version's lineage needs it (the
inputs of the step that produced it, transitively) or a cache entry needs it
(the outputs of the step run that `refs/artrepo/cache/*` serves).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from artrepo import names
from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.maintenance.inventory import artrepo_refs, classify
from artrepo.gitdb import layout
from artrepo.gitdb.parsed import is_oid
from artrepo.repository import Repository, VersionInfo


@dataclass
class RetentionPlan:
    drop: list[VersionInfo] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # name:version -> why it was kept despite the policy

    def refs(self) -> set[str]:
        return {version_ref(i) for i in self.drop}


def version_ref(info: VersionInfo) -> str:
    return layout.version_ref(info.name, info.version)


def plan(repo: Repository, wanted_names: list[str], *, keep_last: int | None, older_than: float | None,
         now_ns: int, force: bool = False) -> RetentionPlan:
    for n in wanted_names:
        names.validate_name(n)
    all_names = repo.names()
    for n in wanted_names:
        if n not in all_names:
            repo.latest(n)  # raises NotFoundError with a suggestion
    result = RetentionPlan()
    aliased = {t.oid for r, oid in artrepo_refs(repo.git_dir).items()
               if (t := classify(r, oid)).kind == "alias" and is_oid(oid)}
    candidates: list[VersionInfo] = []
    for name in wanted_names or all_names:
        versions = repo.versions(name)  # newest first
        numbered = [v for v in versions if v.version.isdigit()]
        top = max(numbered, key=lambda v: int(v.version)) if numbered else None
        for i, info in enumerate(versions):
            if keep_last is not None and i < keep_last:
                continue
            if older_than is not None and now_ns - info.record.created_ns < older_than * 1e9:
                continue
            label = f"{info.name}:{info.version}"
            if i == 0:
                result.kept[label] = "latest version"
            elif info is top:
                result.kept[label] = "highest number (numbers are never reused)"
            elif info.id in aliased:
                result.kept[label] = "an alias points at it"
            else:
                candidates.append(info)
    if not candidates:
        return result
    needed = {} if force else needed_by_runs(repo, {c.id for c in candidates})
    for info in candidates:
        why = needed.get(info.id)
        if why:
            result.kept[f"{info.name}:{info.version}"] = why + " (use --force to drop it anyway)"
        else:
            result.drop.append(info)
    return result


def needed_by_runs(repo: Repository, candidates: set[str]) -> dict[str, str]:
    """{version id: why} for candidates a kept version's lineage or a cache entry needs."""
    why: dict[str, str] = {}
    try:
        for key_ref in [r for r, oid in repo.refs.all(layout.CACHE + "/").items() if is_oid(oid)]:
            found = repo.cached_step("".join(key_ref.split("/")[-2:]))
            step = found[1] if found else None
            for vid in (step.outputs.values() if step else ()):
                if vid in candidates:
                    why.setdefault(vid, f"cache entry of step {step.name!r} needs it")
        kept = [i.id for n in repo.names() for i in repo.versions(n) if i.id not in candidates]
        _lineage(repo, kept, candidates, why)
    except ArtrepoError as exc:
        raise IntegrityError(f"cannot read pipeline runs to check lineage ({exc}); nothing was dropped") from None
    return why


def _lineage(repo, kept: list[str], candidates: set[str], why: dict[str, str]) -> None:
    """Walk producer -> step inputs from every kept version; mark candidates met on the way."""
    run_commits = repo.run_ids()
    todo, seen = list(kept), set(kept)
    while todo:
        vid = todo.pop()
        producer = repo.record(vid).producer or {}
        commit = run_commits.get(producer.get("run_id") or "")
        if commit is None or not producer.get("step"):
            continue
        step = repo.read_step(commit, producer["step"])
        for input_id in (step.inputs.values() if step else ()):
            if input_id in candidates:
                why.setdefault(input_id, f"lineage of {repo.record(vid).name} needs it (input of step {step.name!r})")
            if input_id not in seen:
                seen.add(input_id)
                todo.append(input_id)


def drop_versions(repo: Repository, infos: list[VersionInfo]) -> int:
    """Delete the version refs (under each name's lock); returns how many were deleted."""
    done = 0
    for info in infos:
        with repo.lock(info.name):
            if repo.refs.delete(version_ref(info), info.id):
                done += 1
    return done
