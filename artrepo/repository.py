"""The one facade over storage, git objects, refs and records.

It enforces the write order of docs/format.md: chunks and packs, then the
index, then git objects, then the ref that publishes them (compare-and-swap),
then derived refs. It knows nothing of Python objects or materializers.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from artrepo import names
from artrepo.gitdb import layout
from artrepo.gitdb.layout import ANNOTATIONS, VERSIONS
from artrepo.plain import Frozen
from artrepo.errors import (AmbiguousReferenceError, ConflictError, FormatError, IntegrityError,
                            NotARepositoryError, NotFoundError)
from artrepo.records.artifact import Annotation, Manifest, VersionRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (milliseconds)
if TYPE_CHECKING:
    from artrepo.storage.chunkstore import ChunkStore

DIR_NAME = layout.DIR_NAME


class VersionInfo(Frozen):
    """An artifact version as stored: id (git commit oid), label and record."""

    __slots__ = ("id", "name", "version", "record")

    def __init__(self, id: str, name: str, version: str, record: VersionRecord):
        self._init(id=id, name=name, version=version, record=record)


def find_root(start: Path | None = None) -> Path:
    """The project folder holding `.artrepo/`, searching upward as git does."""
    env = os.environ.get("ARTREPO_DIR")
    if env:
        p = Path(env).resolve()
        if (p / DIR_NAME / "config").is_file():
            return p
        raise NotARepositoryError(f"ARTREPO_DIR={env} is not an artrepo repository")
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DIR_NAME / "config").is_file():
            return folder
    raise NotARepositoryError(f"not an artrepo repository (or any parent up to /): {here}; run 'artrepo init'")


_OPEN: dict[Path, "Repository"] = {}


def active(root: Path | str | None = None) -> "Repository":
    """The repository containing `root` (default: the working directory), opened once per process."""
    top = find_root(Path(root) if root else None)
    repo = _OPEN.get(top)
    if repo is None:
        from artrepo.lightrepo import open_light

        repo = _OPEN[top] = open_light(top)
    return repo


class Repository:
    """An open artrepo repository."""

    def __init__(self, root: Path):
        from artrepo.gitdb.objects import Objects
        from artrepo.gitdb.refs import Refs
        from artrepo.gitdb.repo import open_git

        self.root = Path(root).resolve()
        self.git_dir = self.root / DIR_NAME
        self.git = open_git(self.git_dir)
        self.objects = Objects(self.git)
        self.refs = Refs(self.git, self.git_dir)
        self.tmp = layout.tmp_dir(self.git_dir)
        self._chunks: ChunkStore | None = None
        self._records: dict[str, VersionRecord] = {}
        # Called with a chunk id the store lacks (remotes fetch it on demand).
        self.fetch_missing = None

    @property
    def chunks(self) -> ChunkStore:
        """The chunk store, opened (and its index read) on first use only."""
        if self._chunks is None:
            from artrepo.storage.chunkstore import ChunkStore

            self._chunks = ChunkStore(layout.chunks_dir(self.git_dir), self.tmp)
            self._chunks.fetch_missing = self.fetch_missing
        return self._chunks

    # -- opening ------------------------------------------------------------
    @classmethod
    def init(cls, root: Path) -> "Repository":
        from artrepo.gitdb.repo import init_git

        root = Path(root).resolve()
        git_dir = root / DIR_NAME
        if (git_dir / "config").exists():
            return cls(root)
        root.mkdir(parents=True, exist_ok=True)
        init_git(git_dir, {"hash": "blake3", "chunker": "fastcdc-2020/32k-128k-512k", "compression": "zstd-1"})
        for sub in layout.INIT_FOLDERS:
            (git_dir / sub).mkdir(parents=True, exist_ok=True)
        return cls(root)

    @classmethod
    def find(cls, start: Path | None = None) -> "Repository":
        return cls(find_root(start))

    def close(self) -> None:
        if self._chunks is not None:
            self._chunks.close()

    def saving(self):
        """Held (shared) by every save from its first chunk to its ref; gc takes it exclusively.

        A save may reuse chunks of a pack no ref reaches yet: without this lock
        a concurrent gc could delete that pack between the dedup check and the ref.
        """
        from artrepo.atomic import flock

        return flock(layout.gc_lock(self.git_dir), shared=True)

    def lock(self, name: str):
        """The per-name lock that serializes version allocation."""
        from artrepo.atomic import flock

        return flock(layout.name_lock(self.git_dir, name))

    # -- saving -------------------------------------------------------------
    def write_manifest(self, manifest: Manifest) -> str:
        return self.objects.write_blob(manifest.to_msgpack())

    def save_version(self, record: VersionRecord, manifest_blob: str) -> VersionInfo:
        """Publish a version whose chunks and manifest blob are already durable."""
        name = record.name
        with self.lock(name):
            existing = self.refs.list_prefix(layout.version_prefix(name))
            if record.version is not None:
                label = record.version
                if names.encode(label) in existing:
                    raise ConflictError(f"version {name}:{label} already exists; custom versions are used once")
            else:
                label = str(next_number(names.decode(k) for k in existing))
            head = self.refs.get(layout.head_ref(name))
            tree = self.objects.write_tree({"record.msgpack": record.to_msgpack(), "manifest.msgpack": manifest_blob})
            message = version_message(record)
            commit = self.objects.write_commit(tree, [head] if head else [], message, record.created_ns)
            ref = layout.version_ref(name, label)
            if not self.refs.create(ref, commit, f"save {name}:{label}"):
                raise ConflictError(f"version {name}:{label} was created by another writer at the same time")
            self.refs.update(layout.head_ref(name), lambda cur: commit, f"latest {name}:{label}")
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
            data = self.objects.tree_file(version_id, "record.msgpack")
            if data is None:
                raise IntegrityError(f"commit {version_id[:12]} holds no version record")
            rec = self._records[version_id] = VersionRecord.from_msgpack(data)
        return rec

    def manifest(self, version_id: str) -> Manifest:
        data = self.objects.tree_file(version_id, "manifest.msgpack")
        if data is None:
            raise IntegrityError(f"version {version_id[:12]} has no manifest")
        return Manifest.from_msgpack(data)

    def names(self) -> list[str]:
        return sorted(names.decode(n) for n in self.refs.list_folders(VERSIONS))

    def version_refs(self, name: str) -> dict[str, str]:
        """{version label: version id} for one name."""
        names.validate_name(name)
        raw = self.refs.list_prefix(layout.version_prefix(name))
        return {names.decode(k): v for k, v in raw.items()}

    def versions(self, name: str) -> list[VersionInfo]:
        """All versions of `name`, newest first."""
        infos = [VersionInfo(oid, name, label, self.named_record(oid, name, label))
                 for label, oid in self.version_refs(name).items()]
        infos.sort(key=lambda i: (i.record.created_ns, _label_key(i.version)), reverse=True)
        return infos

    def latest(self, name: str) -> VersionInfo:
        head = self.refs.get(layout.head_ref(name))
        refs = self.version_refs(name)
        if not refs:
            raise NotFoundError(f"no artifact named {name!r}{_suggest(name, self.names())}")
        # heads is derived: a writer killed between publishing a version and
        # moving heads leaves it one behind, so also weigh the highest number.
        numbered = [label for label in refs if label.isdigit()]
        candidates = {label for label, oid in refs.items() if oid == head}
        if numbered:
            candidates.add(max(numbered, key=int))
        if not candidates:
            return self.versions(name)[0]
        infos = [VersionInfo(refs[label], name, label, self.named_record(refs[label], name, label))
                 for label in candidates]
        return max(infos, key=lambda i: i.record.created_ns)

    def get(self, name: str, version: str) -> VersionInfo:
        oid = self.version_refs(name).get(version)
        if oid is None:
            if not self.version_refs(name):
                raise NotFoundError(f"no artifact named {name!r}{_suggest(name, self.names())}")
            raise NotFoundError(f"no version {version!r} of artifact {name!r}")
        return VersionInfo(oid, name, version, self.named_record(oid, name, version))

    def by_id(self, version_id: str) -> VersionInfo:
        rec = self.record(version_id)
        for label, oid in self.version_refs(rec.name).items():
            if oid == version_id:
                return VersionInfo(oid, rec.name, label, rec)
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
        if not found or self.objects.tree_file(found[0], "record.msgpack") is None:
            raise NotFoundError(f"no artifact or version id matching {prefix!r}")
        return found[0]

    # -- trust ----------------------------------------------------------------
    def origin(self, version_id: str) -> str | None:
        """The remote a version was pulled from, or None if it was written here.

        Kept in `origins/<id>` files, local to this repository and never pushed.
        """
        try:
            return (layout.origins_dir(self.git_dir) / version_id).read_text().strip() or None
        except FileNotFoundError:
            return None

    def trusts(self, version_id: str) -> bool:
        """Whether loading this version may run code (pickles, materializer imports)."""
        remote = self.origin(version_id)
        if remote is None:
            return True
        try:
            return str(self.git.config[f"artrepo-remote.{remote}.trusted"]).lower() == "true"
        except KeyError:
            return False

    # -- aliases --------------------------------------------------------------
    def set_alias(self, info: VersionInfo, alias: str) -> None:
        names.validate_version(alias, "alias")
        ref = layout.alias_ref(info.name, alias)
        self.refs.update(ref, lambda cur: info.id, f"alias {alias} -> {info.name}:{info.version}")

    def aliases(self, name: str) -> dict[str, str]:
        raw = self.refs.list_prefix(layout.alias_prefix(name))
        return {names.decode(k): v for k, v in raw.items()}

    def alias_history(self, name: str, alias: str) -> list[tuple[str, int, str]]:
        return self.refs.reflog(layout.alias_ref(name, alias))

    # -- annotations (tags and metadata added later) ---------------------------
    def annotate(self, version_id: str, tags=(), metadata=None, removed_tags=()) -> None:
        from artrepo.gitdb.objects import insert_path

        note = Annotation(version_id, tuple(tags), dict(metadata or {}), time.time_ns(), tuple(removed_tags))
        data = note.to_msgpack()
        from artrepo.storage.hashing import digest

        path = [version_id[:2], version_id[2:], digest(data).hex()[:32]]

        def decide(current: str | None) -> str:
            base = str(self.objects.commit(current).tree_id) if current else None
            tree = insert_path(self.objects, base, path, data)
            return self.objects.write_commit(tree, [current] if current else [], "annotate " + version_id[:12],
                                             note.created_ns)

        self.refs.update(ANNOTATIONS, decide, "annotate " + version_id[:12])

    @contextlib.contextmanager
    def snapshot(self):
        """Within the block the annotations ref is read once (listings of many versions)."""
        self._annotations_head = self.refs.get(ANNOTATIONS)
        try:
            yield self
        finally:
            del self._annotations_head

    def annotations(self, version_id: str) -> list[Annotation]:
        if "_annotations_head" in self.__dict__:  # inside snapshot()
            head = self.__dict__["_annotations_head"]
        else:
            head = self.refs.get(ANNOTATIONS)
        if head is None:
            return []
        out = []
        for _name, oid in self.objects.tree_listing(head, f"{version_id[:2]}/{version_id[2:]}").items():
            out.append(Annotation.from_msgpack(self.objects.blob(oid)))
        return sorted(out, key=lambda a: a.created_ns)


def next_number(labels) -> int:
    """The next auto-increment number: one more than every numeric label."""
    return 1 + max((int(v) for v in labels if v.isdigit()), default=0)


def _label_key(label: str):
    return (1, int(label)) if label.isdigit() else (0, label)


def version_message(record: VersionRecord) -> str:
    # No auto-increment number here: it is a label on the ref, not part of the id.
    what = f"{record.name}:{record.version}" if record.version else f"{record.name} (auto-increment)"
    return (f"artifact {what}\n\nArtrepo-Name: {record.name}\nArtrepo-Type: {record.artifact_type}\n"
            f"Artrepo-Content-Hash: {record.content_hash.hex()}\nArtrepo-Size: {record.size}\n")


def _suggest(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
