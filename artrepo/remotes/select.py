"""Which refs a push or pull is about (from the references a user typed), and which chunks they need."""
from __future__ import annotations

import contextlib

from artrepo import names
from artrepo.errors import ArtrepoError, NotFoundError
from artrepo.gitdb import layout
from artrepo.gitdb.layout import ANNOTATIONS, alias_prefix, alias_ref, version_ref
from artrepo.remotes.negotiate import group_versions, ref_class

RUNS = layout.RUNS + "/"


def parse_all(refs) -> list:
    """Validate every reference before anything is read or written."""
    return [names.parse_reference(r) for r in refs]


def pick(refs: dict[str, str], parsed: list, where: str) -> dict[str, str]:
    """The subset of `refs` (a ref map, local or remote) that the parsed references name.

    `name` selects all versions of the name and its aliases; `name:version`
    one version; `name@alias` the alias and its version; an id prefix a
    version or a pipeline run.
    """
    versions = group_versions(refs)
    out: dict[str, str] = {}
    for ref in parsed:
        found = _pick_one(refs, versions, ref)
        if not found:
            raise NotFoundError(f"{where} has no artifact, version or run matching {ref.text!r}")
        out.update(found)
    if ANNOTATIONS in refs:
        out[ANNOTATIONS] = refs[ANNOTATIONS]
    return out


def _pick_one(refs, versions, ref) -> dict[str, str]:
    if ref.alias:
        key = alias_ref(ref.name, ref.alias)
        if key not in refs:
            return {}
        oid = refs[key]
        labels = [lb for lb, o in versions.get(ref.name, {}).items() if o == oid]
        return {key: oid, **{version_ref(ref.name, lb): oid for lb in labels}}
    labels = versions.get(ref.name, {})
    if ref.version is not None:
        return {version_ref(ref.name, ref.version): labels[ref.version]} if ref.version in labels else {}
    if labels:
        aliases = alias_prefix(ref.name) + "/"
        out = {version_ref(ref.name, lb): oid for lb, oid in labels.items()}
        out.update({k: v for k, v in refs.items() if k.startswith(aliases)})
        return out
    if ref.may_be_id:
        return {k: v for k, v in refs.items()
                if (ref_class(k) == "version" and v.startswith(ref.text))
                or (k.startswith(RUNS) and k[len(RUNS):].startswith(ref.text))}
    return {}


def reached_versions(repo, refs: dict[str, str], all_refs: dict[str, str]) -> dict[str, str]:
    """Version refs of `all_refs` naming a version a selected run's steps read or made (a run travels
    with its inputs and outputs; a run that does not decode brings none, and pull refuses it)."""
    used: set[str] = set()
    for key, commit in refs.items():
        if key.startswith(RUNS):
            with contextlib.suppress(ArtrepoError):
                for name in repo.read_run(commit).steps:
                    step = repo.read_step(commit, name)
                    if step is not None:
                        used.update(step.inputs.values(), step.outputs.values())
    return {k: v for k, v in all_refs.items() if v in used and ref_class(k) == "version"}


def needed_chunks(repo, version_ids, manifests: dict | None = None) -> dict[bytes, int]:
    """Every chunk the versions' data and visualizations name: {chunk id: raw length}, in order.
    `manifests`: {version id: Manifest} already read (the others are read from `repo`)."""
    out: dict[bytes, int] = {}
    for vid in version_ids:
        manifest = manifests.get(vid) if manifests else None
        if manifest is None:
            manifest = repo.manifest(vid)
        for stored in manifest.stored_files():
            for cid, n in stored.chunks:
                out.setdefault(cid, n)
    return out
