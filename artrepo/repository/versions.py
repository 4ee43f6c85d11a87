"""Versions and aliases of a Repository (docs/format.md §8, §10)."""
from __future__ import annotations

import warnings

from artrepo import names
from artrepo.errors import (AmbiguousReferenceError, ConflictError, FormatError, IntegrityError, InvalidNameError,
                            NotFoundError)
from artrepo.gitdb import layout
from artrepo.gitdb.objects import BLOB
from artrepo.plain import Frozen
from artrepo.records.artifact import Manifest, VersionRecord
from artrepo.repository.labels import peek_counter
from artrepo.repository.runs import provenance_rows
from artrepo.repository.upkeep import maybe_maintain

RECENT_SLACK = 8  # versions read beyond a limit: saves racing between staging and publishing may swap order


class VersionInfo(Frozen):
    """An artifact version as stored: id (git commit oid), label and record."""

    __slots__ = ("id", "name", "version", "record")

    def __init__(self, id: str, name: str, version: str, record: VersionRecord):
        self._init(id=id, name=name, version=version, record=record)


class Versions:
    """The versions part of `Repository` (a mixin: it uses `objects`, `refs`, `git_dir`, `lock`)."""

    # -- saving -------------------------------------------------------------
    def write_manifest(self, manifest: Manifest) -> str:
        return self.objects.write_blob(manifest.to_msgpack())

    def save_version(self, record: VersionRecord, manifest_blob: str, provenance=None,
                     diff: bytes | None = None) -> VersionInfo:
        """Publish a version whose chunks are durable: record, commit, then its ref and `heads/<name>`.

        `provenance` (a ProvenanceRecord) and its dirty `diff` go into the commit's tree beside the record.

        The label is chosen under the per-name lock from the name's counter
        (labels.py), which is raised before the ref exists; the version ref and
        the head are published in one ref transaction, whose one filesystem
        sync makes the git objects and the counter durable before either ref
        names them. Nothing here reads more than a few refs, whatever the
        number of versions.
        """
        name = record.name
        with self.lock(name) as lock:
            if record.version is not None:
                label = record.version
                if self.version_id(name, label, strict=True) is not None:
                    raise ConflictError(f"version {name}:{label} already exists; custom versions are used once")
            else:
                label = str(self._next_number(name, lock))
            if label.isdigit() and int(label) > (lock.counter() or 0):
                lock.set_counter(int(label))
            head_ref = layout.head_ref(name)
            head = self.refs.get(head_ref, derived=True)
            tree = self.objects.write_tree_rows(
                [(BLOB, layout.VERSION_RECORD, self.objects.write_blob(record.to_msgpack())),
                 (BLOB, layout.MANIFEST, manifest_blob), *provenance_rows(self.objects, provenance, diff)])
            commit = self.objects.write_commit(tree, [head] if head else [], version_message(record),
                                               record.created_ns)
            version_ref = layout.version_ref(name, label)
            with self.refs.transaction([version_ref, head_ref]) as txn:
                if txn.set(version_ref, lambda cur: commit if cur is None else None, f"save {name}:{label}") != commit:
                    raise ConflictError(f"version {name}:{label} was created by another writer at the same time")
                txn.set(head_ref, lambda cur: commit, f"latest {name}:{label}")
                txn.commit()
        self._records[commit] = record
        maybe_maintain(self, saved=True)
        return VersionInfo(commit, name, label, record)

    def _next_number(self, name: str, lock) -> int:
        """One more than every numeric label of `name`: from its counter when the refs confirm it."""
        n = lock.counter()
        if n is not None and self.version_id(name, str(n)) is not None and self.version_id(name, str(n + 1)) is None:
            return n + 1
        return next_number(self.version_refs(name))  # no counter yet (an older repository) or labels moved

    # -- reading ------------------------------------------------------------
    def named_record(self, version_id: str, name: str, label: str) -> VersionRecord:
        """`record`, with integrity errors naming the artifact version."""
        try:
            return self.record(version_id)
        except (IntegrityError, FormatError) as exc:
            raise IntegrityError(f"artifact {name}:{label} ({version_id[:12]}): {exc}") from None

    def record(self, version_id: str) -> VersionRecord:
        rec = self._records.get(version_id)
        if rec is None:
            data = self.objects.tree_file(version_id, layout.VERSION_RECORD)
            if data is None:
                raise IntegrityError(f"commit {version_id[:12]} holds no version record")
            rec = self._records[version_id] = VersionRecord.from_msgpack(data)
        return rec

    def manifest(self, version_id: str) -> Manifest:
        data = self.objects.tree_file(version_id, layout.MANIFEST)
        if data is None:
            raise IntegrityError(f"version {version_id[:12]} has no manifest")
        return Manifest.from_msgpack(data)

    def names(self) -> list[str]:
        return sorted(names.decode(n) for n in self.refs.list_folders(layout.VERSIONS))

    def version_refs(self, name: str) -> dict[str, str]:
        """{version label: version id} for one name."""
        names.validate_name(name)
        raw = self.refs.list_prefix(layout.version_prefix(name))
        return {names.decode(k): v for k, v in raw.items()}

    def version_id(self, name: str, label: str, *, strict: bool = False) -> str | None:
        """The id `name:label` publishes (one ref read), or None; a damaged ref is an IntegrityError if `strict`."""
        try:
            names.validate_version(label)
        except InvalidNameError:
            return None  # no ref can hold it (and it must not name a path)
        return self.refs.get(layout.version_ref(name, label), derived=not strict)

    def versions(self, name: str) -> list[VersionInfo]:
        """All readable versions of `name`, newest first.

        A version whose record cannot be read costs only itself: it is left out
        with a warning (`fsck` reports it; reading it by label fails in one line).
        """
        infos = []
        for label, oid in self.version_refs(name).items():
            try:
                infos.append(VersionInfo(oid, name, label, self.named_record(oid, name, label)))
            except IntegrityError as exc:
                warnings.warn(f"skipped unreadable version: {exc}", UserWarning)
        infos.sort(key=lambda i: (i.record.created_ns, label_key(i.version)), reverse=True)
        return infos

    def latest(self, name: str) -> VersionInfo:
        """The newest version of `name`: a few ref reads when `heads/<name>` and the counter agree."""
        found = self._latest_from_head(name)
        if found is not None:
            return found
        refs = self.version_refs(name)
        if not refs:
            raise NotFoundError(f"no artifact named {name!r}{suggest(name, self.names())}")
        # heads is derived: a writer killed between publishing a version and
        # moving heads leaves it one behind, so also weigh the highest number.
        head = self.refs.get(layout.head_ref(name), derived=True)
        numbered = [label for label in refs if label.isdigit()]
        candidates = {label for label, oid in refs.items() if oid == head}
        if numbered:
            candidates.add(max(numbered, key=int))
        if not candidates:
            readable = self.versions(name)
            if not readable:
                raise IntegrityError(f"no version of artifact {name!r} is readable (run 'artrepo fsck')")
            return readable[0]
        infos = [VersionInfo(refs[label], name, label, self.named_record(refs[label], name, label))
                 for label in candidates]
        return max(infos, key=lambda i: i.record.created_ns)

    def _latest_from_head(self, name: str) -> VersionInfo | None:
        """`latest` without listing: the head's version and the highest number (the counter); None if unsure."""
        head = self.refs.get(layout.head_ref(name), derived=True)
        n = peek_counter(self.git_dir, name)
        if head is None or n is None:
            return None
        top = self.version_id(name, str(n))
        if top is None or self.version_id(name, str(n + 1)) is not None:
            return None
        head_label = self._label_of(name, head, {top: str(n)})
        if head_label is None:
            return None  # an older head (a crash between a version and its head) or moved labels
        infos = [VersionInfo(head, name, head_label, self.named_record(head, name, head_label))]
        if top != head:
            infos.append(VersionInfo(top, name, str(n), self.named_record(top, name, str(n))))
        return max(infos, key=lambda i: i.record.created_ns)

    def _label_of(self, name: str, oid: str, known: dict[str, str]) -> str | None:
        """The label publishing `oid` when it can be told without listing: a custom version's, or a known one."""
        if oid in known:
            return known[oid]
        rec = self.record(oid)
        if rec.name == name and rec.version is not None and self.version_id(name, rec.version) == oid:
            return rec.version
        return None

    def _auto_label(self, name: str, oid: str, created_ns: int) -> str | None:
        """The auto-increment label publishing `oid`, found without listing; None if unsure.

        Numbers are given in order under the name's lock, to records created
        just before it: bisecting the labels 1..counter on creation time lands
        within a few labels of it (saves racing between creating a record and
        locking may swap), which are then checked. A gap (a deleted or
        renumbered version) gives up.
        """
        n = peek_counter(self.git_dir, name)
        lo, hi = 1, n or 0
        while lo < hi:  # the first label created at or after `created_ns`
            mid = (lo + hi) // 2
            other = self.version_id(name, str(mid))
            if other is None:
                return None
            if self.named_record(other, name, str(mid)).created_ns < created_ns:
                lo = mid + 1
            else:
                hi = mid
        for label in map(str, range(max(1, lo - RECENT_SLACK), min(n or 0, lo + RECENT_SLACK) + 1)):
            if self.version_id(name, label) == oid:
                return label
        return None

    def recent_versions(self, name: str, limit: int | None) -> list[VersionInfo]:
        """The newest `limit` versions of `name` (all when None), as `versions(name)[:limit]`.

        Walks the name's history from `heads/<name>` (each version's parent is
        the one saved before it), naming auto-increment versions by counting
        down from the counter and checking each ref: about `limit` commits,
        whatever the number of versions. Anything irregular (pulled chains,
        dropped or renumbered versions) falls back to the full listing.
        """
        if limit is not None:
            found = self._walk_recent(name, limit + RECENT_SLACK)
            if found is not None:
                found.sort(key=lambda i: (i.record.created_ns, label_key(i.version)), reverse=True)
                return found[:limit]
        return self.versions(name)[:limit]

    def _walk_recent(self, name: str, want: int) -> list[VersionInfo] | None:
        oid = self.refs.get(layout.head_ref(name), derived=True)
        n = peek_counter(self.git_dir, name)
        if oid is None or n is None or self.version_id(name, str(n + 1)) is not None:
            return None
        out: list[VersionInfo] = []
        while oid is not None and len(out) < want:
            commit = self.objects.commit(oid)
            rec = self.record(oid)
            if len(commit.parent_ids) > 1 or rec.name != name:
                return None
            label = rec.version if rec.version is not None else str(n)
            if self.version_id(name, label) != oid:
                return None
            if rec.version is None:
                n -= 1
            out.append(VersionInfo(oid, name, label, rec))
            oid = commit.parent_ids[0] if commit.parent_ids else None
        return out if len(out) == want else None  # a short chain: versions may be published elsewhere

    def has_name(self, name: str) -> bool:
        return self.refs.get(layout.head_ref(name), derived=True) is not None or bool(self.version_refs(name))

    def get(self, name: str, version: str) -> VersionInfo:
        names.validate_name(name)
        oid = self.version_id(name, version, strict=True)
        if oid is None:
            if not self.has_name(name):
                raise NotFoundError(f"no artifact named {name!r}{suggest(name, self.names())}")
            raise NotFoundError(f"no version {version!r} of artifact {name!r}")
        return VersionInfo(oid, name, version, self.named_record(oid, name, version))

    def hint_label(self, version_id: str, label: str) -> None:
        """Remember a label `version_id` was published under (`by_id` checks it with one ref read before use)."""
        if len(self.label_hints) > 10_000:
            self.label_hints.clear()
        self.label_hints[version_id] = label

    def by_id(self, version_id: str) -> VersionInfo:
        rec = self.record(version_id)
        hint = self.label_hints.get(version_id)
        label = hint if hint is not None and self.version_id(rec.name, hint) == version_id else \
            self._label_of(rec.name, version_id, {})
        if label is None and rec.version is None:
            label = self._auto_label(rec.name, version_id, rec.created_ns)
        if label is not None:
            self.hint_label(version_id, label)
            return VersionInfo(version_id, rec.name, label, rec)
        for label, oid in self.version_refs(rec.name).items():
            if oid == version_id:
                return VersionInfo(oid, rec.name, label, rec)
        if self.deleted(version_id):
            raise NotFoundError(f"version {rec.name} ({version_id[:12]}) was deleted")
        raise NotFoundError(f"version id {version_id[:12]} is not a published version")

    def resolve(self, text: str, version: str | int | None = None) -> VersionInfo:
        """Any reference: name (latest), name:version, name@alias, or an id prefix."""
        ref = names.parse_reference(text, version)
        if ref.alias:
            oid = self.refs.get(layout.alias_ref(ref.name, ref.alias))
            if oid is None:
                raise NotFoundError(f"no alias {ref.alias!r} on artifact {ref.name!r}")
            return self.by_id(oid)
        if ref.version is not None:
            return self.get(ref.name, ref.version)
        if ref.may_be_id and not self.has_name(ref.name):
            return self.by_id(self._expand(ref.text))
        return self.latest(ref.name)

    def _expand(self, prefix: str) -> str:
        found = self.objects.expand_prefix(prefix)
        if len(found) > 1:
            raise AmbiguousReferenceError(f"id prefix {prefix!r} is ambiguous; give more characters")
        if not found or self.objects.tree_file(found[0], layout.VERSION_RECORD) is None:
            raise NotFoundError(f"no artifact or version id matching {prefix!r}")
        return found[0]

    # -- aliases --------------------------------------------------------------
    def set_alias(self, info: VersionInfo, alias: str) -> None:
        names.validate_version(alias, "alias")
        self.refs.update(layout.alias_ref(info.name, alias), lambda cur: info.id,
                         f"alias {alias} -> {info.name}:{info.version}")

    def aliases(self, name: str) -> dict[str, str]:
        return {names.decode(k): v for k, v in self.refs.list_prefix(layout.alias_prefix(name)).items()}

    def alias_history(self, name: str, alias: str) -> list[tuple[str, int, str]]:
        return self.refs.reflog(layout.alias_ref(name, alias))


def next_number(labels) -> int:
    """The next auto-increment number: one more than every numeric label."""
    return 1 + max((int(v) for v in labels if v.isdigit()), default=0)


def label_key(label: str):
    return (1, int(label)) if label.isdigit() else (0, label)


def version_message(record: VersionRecord) -> str:
    # No auto-increment number here: it is a label on the ref, not part of the id.
    what = f"{record.name}:{record.version}" if record.version else f"{record.name} (auto-increment)"
    return (f"artifact {what}\n\nArtrepo-Name: {record.name}\nArtrepo-Type: {record.artifact_type}\n"
            f"Artrepo-Content-Hash: {record.content_hash.hex()}\nArtrepo-Size: {record.size}\n")


def suggest(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
