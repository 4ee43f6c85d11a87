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
from artrepo.gitdb.layout import VERSION_RECORD
from artrepo.maintenance.inventory import RefTarget, classify, is_oid
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
    versions: list[tuple[RefTarget, object]] = field(default_factory=list)  # (version ref, its manifest)
    annotations: list[str] = field(default_factory=list)  # commits of annotation refs
    problems: list[Problem] = field(default_factory=list)
    # versions whose files cannot be written safely (links leading out, a path twice): fsck reports them, but
    # their chunks are known, so gc and du go on
    unsafe: list[Problem] = field(default_factory=list)

    def problem(self, message: str, affects=()) -> None:
        self.problems.append(Problem(message, tuple(sorted(set(affects)))))


def reach(view, *, ignore_refs=frozenset()) -> Reach:
    """Read every ref's record and manifest through the view's reader; damage goes to `problems`."""
    out = Reach()
    for message, affects in view.problems:
        out.problem(message, affects)
    for ref, text in sorted(view.refs().items()):
        if ref in ignore_refs:
            continue
        target = classify(ref, text)
        if not is_oid(text):
            out.problem(f"ref {ref} does not hold an object id ({text[:40]!r})", [target.label])
            continue
        try:
            view.reader.objects.commit(text)
            if target.kind == "annotations":
                out.annotations.append(text)
                continue
            holds_version = view.reader.objects.tree_file(text, VERSION_RECORD) is not None
        except ArtrepoError as exc:
            out.problem(f"ref {ref}: {exc}", [target.label])
            continue
        if holds_version or target.kind in ("version", "alias", "head"):
            _version(view.reader, target, out)
    return out


def _version(reader, target: RefTarget, out: Reach) -> None:
    label = target.label
    try:
        record, manifest = reader.record(target.oid), reader.manifest(target.oid)
    except ArtrepoError as exc:
        out.problem(f"version {target.oid[:12]} ({target.ref}): unreadable record ({exc})", [label])
        return
    except Exception as exc:  # a record that decodes but has the wrong shape
        out.problem(f"version {target.oid[:12]} ({target.ref}): malformed record ({exc!r})", [label])
        return
    if target.kind == "version":
        out.versions.append((target, manifest))
        if record.name != target.name:
            out.problem(f"ref {target.ref} names {target.name!r} but its record says {record.name!r}", [label])
    if manifest.content_hash != record.content_hash:
        out.problem(f"version {target.oid[:12]}: manifest does not match the record's content hash", [label])
    try:
        check_manifest(manifest)  # paths, and links resolved as the kernel would (item 1 of issue 14)
    except IntegrityError as exc:
        out.unsafe.append(Problem(f"version {target.oid[:12]}: {exc}", (label,)))
    for f in list(manifest.files) + [f for _, _, f in manifest.visualizations]:
        for cid, n in f.chunks:
            out.users.setdefault(cid, set()).add(label)
            out.raw_length.setdefault(cid, n)


def refuse_on_damage(view, reached: Reach, doing: str) -> None:
    """Raise when the refs' data cannot be known for sure: gc and du never guess."""
    if reached.problems:
        where = f"remote {view.name}: " if view.name else ""
        fsck = f"artrepo fsck --remote {view.name}" if view.name else "artrepo fsck"
        raise IntegrityError(f"{where}{reached.problems[0]}; cannot tell which data the refs need: run '{fsck}' "
                             f"and repair it first ({doing})")
