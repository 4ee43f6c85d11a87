"""What the refs of a view reach: the versions they point at and the chunks those need.

A version's chunks are needed while a ref points straight at its commit
(version refs, aliases, heads, and any other ref whose commit holds a
manifest). Versions reachable only as git ancestors of later versions keep
their records (git history) but not their data: that is what retention frees.
Damage is collected, never raised: fsck reports it, gc and du refuse to guess.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.heap import paused_gc
from artrepo.gitdb.layout import VERSION_RECORD
from artrepo.gitdb.parsed import is_oid
from artrepo.maintenance.inventory import RefTarget, all_oids, classify_all
from artrepo.maintenance.reachcache import NONE
from artrepo.safepaths import check_manifest


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    affects: tuple[str, ...] = ()  # artifact versions (name:version) it affects

    def __str__(self) -> str:
        if not self.affects:
            return self.message
        shown = ", ".join(self.affects[:8]) + (f" and {len(self.affects) - 8} more" if len(self.affects) > 8 else "")
        return f"{self.message} (affects {shown})"


@dataclass
class Reach:
    users: dict[bytes, set[str]] = field(default_factory=dict)  # chunk id -> labels of the versions using it
    raw_length: dict[bytes, int] = field(default_factory=dict)  # chunk id -> length the manifests give
    # (version ref, its stored files as (size, [(chunk id, raw length)]), data and visualizations alike)
    versions: list[tuple[RefTarget, list]] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)  # commits of annotation refs
    problems: list[Problem] = field(default_factory=list)
    # versions whose files cannot be written safely (links leading out, a path twice): fsck reports them, but
    # their chunks are known, so gc and du go on
    unsafe: list[Problem] = field(default_factory=list)

    def problem(self, message: str, affects=()) -> None:
        self.problems.append(Problem(message, tuple(sorted(set(affects)))))


def reach(view, *, ignore_refs=frozenset(), cache=None, objects_checked: bool = False) -> Reach:
    """Read every ref's record and manifest through the view's reader; damage goes to `problems`.

    With a `cache` (reachcache.py: what each commit was found to hold before),
    a known commit costs one lookup instead of four object reads; its object
    must still be here, which is checked for all of them at once unless
    `objects_checked` (fsck: stock `git fsck` reports a ref whose commit is
    missing, and fsck then reads everything again without the cache).
    """
    with paused_gc():
        return _reach(view, ignore_refs, cache, objects_checked)


def _reach(view, ignore_refs, cache, objects_checked: bool) -> Reach:
    out = Reach()
    for message, affects in view.problems:
        out.problem(message, affects)
    targets = classify_all(view.refs(), ignore_refs)
    if not all_oids([t.oid for t in targets]):
        for target in [t for t in targets if not is_oid(t.oid)]:
            out.problem(f"ref {target.ref} does not hold an object id ({target.oid[:40]!r})", [target.label])
        targets = [t for t in targets if is_oid(t.oid)]
    known = [None] * len(targets) if cache is None else cache.get_many([t.oid for t in targets])
    gone = set()
    if cache is not None and not objects_checked:  # a cached commit still needs its object here: all at once
        gone = view.reader.objects.missing_among([t.oid for t, k in zip(targets, known) if k is not None])
    for target, found in zip(targets, known):
        if found is not None and target.kind != "annotations" and target.oid not in gone:
            if found:
                _add(target, found[0], found[1], out)
        else:
            _read(view, target, cache, out)
    if cache is not None:
        cache.save()
    return out


def _read(view, target: RefTarget, cache, out: Reach) -> None:
    """One ref whose commit is not known (or no longer here): read its objects, and remember sound ones."""
    ref, text = target.ref, target.oid
    try:
        view.reader.objects.commit(text)
        if target.kind == "annotations":
            out.annotations.append(text)
            return
        holds_version = view.reader.objects.tree_has(text, VERSION_RECORD)
    except ArtrepoError as exc:
        out.problem(f"ref {ref}: {exc}", [target.label])
        return
    if holds_version or target.kind in ("version", "alias", "head"):
        found = _version(view.reader, target, out)
        if found is not None and cache is not None:
            cache.put(text, found)
    elif cache is not None:
        cache.put(text, NONE)


def _version(reader, target: RefTarget, out: Reach) -> tuple | None:
    """Read and check one version; what the cache keeps of it when it is sound: (name, files)."""
    label = target.label
    try:
        record, manifest = reader.record(target.oid), reader.manifest(target.oid)
    except ArtrepoError as exc:
        out.problem(f"version {target.oid[:12]} ({target.ref}): unreadable record ({exc})", [label])
        return None
    except Exception as exc:  # a record that decodes but has the wrong shape
        out.problem(f"version {target.oid[:12]} ({target.ref}): malformed record ({exc!r})", [label])
        return None
    before = len(out.problems), len(out.unsafe)
    try:
        check_manifest(manifest)  # paths, and links resolved as the kernel would (item 1 of issue 14)
    except IntegrityError as exc:
        out.unsafe.append(Problem(f"version {target.oid[:12]}: {exc}", (label,)))
    if manifest.content_hash != record.content_hash:
        out.problem(f"version {target.oid[:12]}: manifest does not match the record's content hash", [label])
    files = [(f.size, [tuple(c) for c in f.chunks]) for f in manifest.stored_files()]
    _add(target, record.name, files, out)
    return (record.name, files) if (len(out.problems), len(out.unsafe)) == before else None  # only sound ones cached


def _add(target: RefTarget, name: str, files: list, out: Reach) -> None:
    """A sound version's name and files (from its objects, or from the cache) into `out`."""
    label = target.label
    if target.kind == "version":
        out.versions.append((target, files))
        if name != target.name:
            out.problem(f"ref {target.ref} names {target.name!r} but its record says {name!r}", [label])
    users, raw_length = out.users, out.raw_length
    for _size, chunks in files:
        for cid, n in chunks:
            found = users.get(cid)
            if found is None:
                users[cid] = {label}
                raw_length[cid] = n
            else:
                found.add(label)


def refuse_on_damage(view, reached: Reach, doing: str) -> None:
    """Raise when the refs' data cannot be known for sure: gc and du never guess."""
    if reached.problems:
        where = f"remote {view.name}: " if view.name else ""
        fsck = f"artrepo fsck --remote {view.name}" if view.name else "artrepo fsck"
        raise IntegrityError(f"{where}{reached.problems[0]}; cannot tell which data the refs need: run '{fsck}' "
                             f"and repair it first ({doing})")
