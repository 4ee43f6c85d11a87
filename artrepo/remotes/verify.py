"""What a pull checks before it makes a version or a run visible here (docs/reliability.md, "Threat model").

    refused = Refusals(remote.name)
    sound = read_ahead(repo, arriving)           # meanwhile git checks their pack: content only
    check_refs(repo, state.refs, refused, sound) # records, manifests, links, runs, aliases
    fetch_verified(repo, remote_store, versions, refused)   # data: in the remote's index, verified on transfer

Anyone who can write to a remote may publish any bytes, so every ref a pull
would create is checked first: a version's record and manifest decode, agree
with each other and with the ref's name, and its files can be written safely
(`safepaths.check_manifest`: paths, and links resolved as the kernel would); a
run's records (provenance included) decode, its pipeline is a valid name and
its `keys/` tree holds only cache keys whose step records say so
(`Repository.run_problem`); an alias points at a version that arrives or is
here. Data is verified as it is
transferred (ids, bounds, codecs, hashes: storage.transfer). A version, run or
alias that fails is refused: it is not published here, everything else is,
and the pull ends with one line naming what was refused (exit 3).
"""
from __future__ import annotations

from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.gitdb import layout
from artrepo.safepaths import check_manifest
from artrepo.storage.ids import short
from artrepo.storage.transfer import transfer

SHOWN = 3  # refusals named with their reason in the one line


class Refusals:
    """Refs a pull will not create, with why: {ref: reason}."""

    def __init__(self, remote: str):
        self.remote = remote
        self.refs: dict[str, str] = {}

    def refuse(self, ref: str, why: str) -> None:
        self.refs.setdefault(ref, why)

    def refuse_version(self, refs: dict[str, str], oid: str, why: str) -> None:
        """Refuse every ref of `refs` naming the version `oid`."""
        for ref, target in refs.items():
            if target == oid and layout.ref_kind(ref) == "version":
                self.refuse(ref, why)

    def accepted(self, refs: dict[str, str]) -> dict[str, str]:
        return {ref: oid for ref, oid in refs.items() if ref not in self.refs}

    def message(self) -> str:
        """One line: what was refused and why (the first few), and that the rest was pulled."""
        items = sorted((label(ref), why) for ref, why in self.refs.items())
        shown = "; ".join(f"{what} ({why})" for what, why in items[:SHOWN])
        more = f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
        return (f"remote {self.remote}: refused {len(items)} ref(s) that do not verify, everything else was "
                f"pulled: {shown}{more}")

    def __bool__(self) -> bool:
        return bool(self.refs)


def label(ref: str) -> str:
    """How a user names what `ref` publishes: `name:version`, `name@alias`, `run <id>`, or the ref."""
    kind = layout.ref_kind(ref)
    if kind == "version":
        return "{}:{}".format(*layout.split_version_ref(ref))
    if kind == "alias":
        return "{}@{}".format(*layout.split_alias_ref(ref))
    if kind == "run":
        return f"run {ref.rsplit('/', 1)[1][:12]}"
    return ref


def check_refs(repo, refs: dict[str, str], refused: Refusals, sound: dict | None = None) -> dict:
    """Refuse the versions, runs and aliases of `refs` (a remote's) that may not become visible here.

    `sound`: {version id: manifest} of versions whose content `read_ahead`
    found sound (only their name is left to check). Returns {version id:
    manifest} of the arriving versions that verified: a pull reads each
    manifest once and finds the data it needs in them.
    """
    here = set(repo.published_refs().values())
    problems: dict[str, str | None] = {}  # commit -> why not (None: fine), each commit checked once
    manifests: dict = {}
    for ref, oid in sorted(refs.items()):
        kind = layout.ref_kind(ref)
        if oid in here or kind not in ("version", "run"):
            continue
        if oid not in problems:
            problems[oid] = version_problem(repo, ref, oid, manifests, sound) if kind == "version" else \
                repo.run_problem(oid)
        if problems[oid] is not None:
            refused.refuse(ref, problems[oid])
    versions = {oid for ref, oid in refused.accepted(refs).items() if layout.ref_kind(ref) == "version"}
    for ref, oid in sorted(refs.items()):
        if layout.ref_kind(ref) == "alias" and oid not in versions and oid not in here:
            refused.refuse(ref, "it points at no version that arrives or is here")
    return manifests


def version_problem(repo, ref: str, oid: str, manifests: dict | None = None, sound: dict | None = None) -> str | None:
    """Why the version commit `oid`, published by the remote as `ref`, may not be published here;
    its manifest goes into `manifests` when it verifies (`sound`: as in check_refs)."""
    name, _label = layout.split_version_ref(ref)
    manifest = sound.get(oid) if sound else None
    try:
        record = repo.record(oid)
        problem = None
        if manifest is None:
            manifest = repo.manifest(oid)
            problem = f"its record names the artifact {record.name!r}" if record.name != name else \
                content_problem(repo, oid, record, manifest)
        elif record.name != name:
            problem = f"its record names the artifact {record.name!r}"
    except ArtrepoError as exc:
        return str(exc)
    if problem is None and manifests is not None:
        manifests[oid] = manifest
    return problem


def content_problem(repo, oid: str, record, manifest) -> str | None:
    """Why a version's record and manifest (read) may not be published, whatever its name; raises what
    reading its files' paths or its provenance raises."""
    if manifest.content_hash != record.content_hash:
        return "its manifest does not match its record's content hash"
    check_manifest(manifest)
    repo.read_provenance(oid)  # a version saved outside a step: its provenance decodes
    return None


def read_ahead(repo, version_ids) -> dict:
    """{version id: manifest} of those of `version_ids` whose content is sound (`content_problem`).

    Run while git still checks the pack the versions arrived in, their
    objects held in memory (`ObjectStore.hold`: each read is of an object
    whose id was computed from it), so what it finds sound stays sound; a
    version it cannot read may only lack an object git has not placed yet,
    and is checked in full afterwards. It publishes nothing.
    """
    sound = {}
    for oid in version_ids:
        try:
            manifest = repo.manifest(oid)
            if content_problem(repo, oid, repo.record(oid), manifest) is None:
                sound[oid] = manifest
        except ArtrepoError:
            continue
    return sound


def fetch_verified(repo, remote, versions: dict[str, list[bytes]], refs: dict[str, str], refused: Refusals,
                   progress=None):
    """Transfer the chunks of `versions` ({version id: chunk ids this repository lacks}) from `remote`.

    A version whose chunks the remote's index does not list, or whose data
    fails verification, is refused (with every ref naming it); the others'
    chunks arrive verified and indexed. Returns the transfer's `Moved` (or None).
    """
    damage = next(iter(remote.index.damaged.values()), None)
    ready = {}
    for vid, chunks in versions.items():
        absent = next((c for c in chunks if not remote.has(c)), None)
        if absent is None:
            ready[vid] = chunks
            continue
        why = f"its chunk {short(absent)} is in no index file of the remote"
        refused.refuse_version(refs, vid, why + (f"; {damage}" if damage else ""))
    chunks = [c for vid in sorted(ready) for c in ready[vid]]
    try:
        return transfer(remote, repo.chunks, chunks, progress, "pull")
    except IntegrityError:
        pass
    # Some pack does not verify: find the versions it costs, one transfer each (what arrived is kept).
    for vid in sorted(ready):
        try:
            transfer(remote, repo.chunks, ready[vid])
        except IntegrityError as exc:
            refused.refuse_version(refs, vid, str(exc))
    return None
