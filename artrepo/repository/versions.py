"""Versions and aliases of a Repository (docs/format.md §8, §10)."""
from __future__ import annotations

import warnings

from artrepo import names
from artrepo.errors import AmbiguousReferenceError, ConflictError, FormatError, IntegrityError, NotFoundError
from artrepo.gitdb import layout
from artrepo.gitdb.objects import BLOB
from artrepo.plain import Frozen
from artrepo.records.artifact import Manifest, VersionRecord
from artrepo.repository.runs import provenance_rows


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

        The label is chosen under the per-name lock; the version ref and the
        head are published in one ref transaction, whose one filesystem sync
        makes the git objects durable before either ref names them.
        """
        name = record.name
        with self.lock(name):
            existing = self.refs.list_prefix(layout.version_prefix(name))
            if record.version is not None:
                label = record.version
                if names.encode(label) in existing:
                    raise ConflictError(f"version {name}:{label} already exists; custom versions are used once")
            else:
                label = str(next_number(names.decode(k) for k in existing))
            head = self.refs.get(layout.head_ref(name), derived=True)
            tree = self.objects.write_tree_rows(
                [(BLOB, layout.VERSION_RECORD, self.objects.write_blob(record.to_msgpack())),
                 (BLOB, layout.MANIFEST, manifest_blob), *provenance_rows(self.objects, provenance, diff)])
            commit = self.objects.write_commit(tree, [head] if head else [], version_message(record),
                                               record.created_ns)
            with self.refs.transaction() as txn:
                if txn.set(layout.version_ref(name, label), lambda cur: commit if cur is None else None,
                           f"save {name}:{label}") != commit:
                    raise ConflictError(f"version {name}:{label} was created by another writer at the same time")
                txn.set(layout.head_ref(name), lambda cur: commit, f"latest {name}:{label}")
                txn.commit()
        self._records[commit] = record
        return VersionInfo(commit, name, label, record)

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

    def version_id(self, name: str, label: str) -> str | None:
        """The id `name:label` publishes (one ref read), or None."""
        return self.refs.get(layout.version_ref(name, label), derived=True)

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
        head = self.refs.get(layout.head_ref(name), derived=True)
        refs = self.version_refs(name)
        if not refs:
            raise NotFoundError(f"no artifact named {name!r}{suggest(name, self.names())}")
        # heads is derived: a writer killed between publishing a version and
        # moving heads leaves it one behind, so also weigh the highest number.
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

    def get(self, name: str, version: str) -> VersionInfo:
        oid = self.version_refs(name).get(version)
        if oid is None:
            if not self.version_refs(name):
                raise NotFoundError(f"no artifact named {name!r}{suggest(name, self.names())}")
            raise NotFoundError(f"no version {version!r} of artifact {name!r}")
        return VersionInfo(oid, name, version, self.named_record(oid, name, version))

    def by_id(self, version_id: str) -> VersionInfo:
        rec = self.record(version_id)
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
        if ref.may_be_id and not self.version_refs(ref.name):
            return self.by_id(self._expand(ref.text))
        return self.latest(ref.name)

    def _expand(self, prefix: str) -> str:
        found = self.objects.expand_prefix(prefix)
        if len(found) > 1:
            raise AmbiguousReferenceError(f"id prefix {prefix!r} is ambiguous; give more characters")
        if not found or self.objects.tree_file(found[0], layout.VERSION_RECORD) is None:
            raise NotFoundError(f"no artifact or version id matching {prefix!r}")
        return found[0]

    # -- labels changed by transfers ----------------------------------------------
    def set_labels(self, name: str, final: dict[str, str], message: str) -> None:
        """Make the labels of `name` equal `final`; the caller holds `self.lock(name)`.

        Order keeps every version published at all times: first create refs at
        free labels, then drop old labels of versions now published elsewhere,
        then create the refs whose label those freed.
        """
        current = self.version_refs(name)
        deferred = {}
        for label, oid in final.items():
            if current.get(label) == oid:
                continue
            if label in current:
                deferred[label] = oid
            elif not self.refs.create(layout.version_ref(name, label), oid, f"{message} {name}:{label}"):
                raise ConflictError(f"version {name}:{label} was created locally at the same time; run again")
        placed = set(final.values())
        for label, oid in current.items():
            if final.get(label) != oid and oid in placed:
                self.refs.delete(layout.version_ref(name, label), oid)
        for label, oid in deferred.items():
            if not self.refs.create(layout.version_ref(name, label), oid, f"relabel {name}:{label}"):
                raise ConflictError(f"version {name}:{label} was created locally at the same time; run again")

    def move_labels(self, name: str, moves: list[tuple[str, str, str]]) -> None:
        """Apply (version id, old label, new label) moves decided against a remote."""
        with self.lock(name):
            final = dict(self.version_refs(name))
            for oid, old, new in moves:
                if final.get(old) == oid:
                    del final[old]
                final[new] = oid
            self.set_labels(name, final, "renumber")
        self.update_head(name)

    def update_head(self, name: str) -> None:
        """Recompute the derived `heads/<name>`: the newest version by creation time."""
        refs = self.version_refs(name)
        if refs:
            newest = max(refs.items(), key=lambda kv: (self.record(kv[1]).created_ns, label_key(kv[0])))[1]
            self.refs.update(layout.head_ref(name), lambda cur: newest, "latest after transfer")

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
