"""The object store: git blobs, trees and commits by id.

    objects = ObjectStore(git_dir)
    tree = objects.write_tree({"record.msgpack": b"...", "manifest.msgpack": Blob(oid)})
    objects.tree_file(commit_id, "record.msgpack")

Loose objects are read and written in pure Python, byte-compatible with git
(zlib of `<type> <size>\\0<body>`, SHA-1 checked on every read), and so are
objects in git's packs (gitpack.py; packed by `artrepo gc` or by the
automatic packing of gitdb.repack): importing pygit2 costs more than a fully
cached pipeline run. History walks and ancestry go to pygit2, imported on
first use, inside this module only.

Objects are written without fsync: whoever publishes them runs one
`sync_filesystem` first (`refs.RefTransaction` does), so that no ref ever
names an object that is not durable. A run's objects go into one git pack
instead (`batch`, batch.py).
"""
from __future__ import annotations

import os
import time
import zlib
from _thread import get_ident
from pathlib import Path

from artrepo.errors import IntegrityError, starved
from artrepo.gitdb.batch import Batch
from artrepo.gitdb.gitpack import GitPack, PackError, deflate
from artrepo.gitdb.files import read_file
from artrepo.gitdb.parsed import Commit, is_oid, parse_commit, tree_entries
from artrepo.gitdb.layout import IDENTITY
from artrepo.plain import Frozen

try:  # the interpreter's own SHA code: importing hashlib (OpenSSL) costs milliseconds
    from _sha1 import sha1
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1

BLOB, TREE = "100644", "40000"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_PARSED_MAX = 10_000
HELD_OVERHEAD = 200  # bytes a held object takes beside its body (its id, tuple and dict slot)


def object_id(kind: str, body: bytes) -> str:
    """The id git gives an object."""
    return sha1(f"{kind} {len(body)}\0".encode() + body).hexdigest()


class Blob(Frozen):
    """An existing blob, by id, as a `write_tree` entry."""

    __slots__ = ("id",)

    def __init__(self, id: str):
        self._init(id=id)


class ObjectStore:
    """The git objects of one repository."""

    def __init__(self, git_dir: Path):
        self.git_dir = Path(git_dir)
        self._objects = os.path.join(self.git_dir, "objects")
        self._parsed: dict = {}  # commit id -> Commit, tree id -> entries: objects never change
        self._git = None  # pygit2.Repository, opened on first need
        self._packs: list[GitPack] | None = None
        self._held: dict[str, tuple[str, bytes]] = {}  # `hold`: objects read from memory
        self._batches: dict[int, Batch] = {}  # thread id -> its open `batch`
        self.held_bytes = 0  # the memory held objects take, about

    # -- pygit2, for what is not loose ----------------------------------------------
    @property
    def git(self):
        if self._git is None:
            from artrepo.gitdb.repo import open_git

            self._git = open_git(self.git_dir)
        return self._git

    # -- packed objects (read in pure Python) -----------------------------------------
    def packs(self, refresh: bool = False) -> list[GitPack]:
        """The repository's git packs (their list re-read on `refresh`: packing replaces packs)."""
        if self._packs is None or refresh:
            known = {p.idx_path.name: p for p in self._packs or ()}
            folder = f"{self._objects}/pack"
            try:
                names = sorted(n for n in os.listdir(folder) if n.endswith(".idx"))
            except FileNotFoundError:
                names = []
            packs = []
            for name in names:
                pack = known.get(name)
                if pack is None:
                    try:
                        pack = GitPack(Path(folder) / name)
                    except FileNotFoundError:
                        continue  # removed by a concurrent repack since the listing
                    except PackError as exc:
                        raise IntegrityError(f"git pack index {name} is unreadable ({exc})") from None
                packs.append(pack)
            self._packs = sorted(packs, key=lambda p: -p.count)  # the biggest pack holds most objects
        return self._packs

    def _find_packed(self, raw: bytes, refresh: bool = True) -> tuple[GitPack, int] | None:
        for again in (False, True) if refresh else (False,):  # a repack may have replaced the packs we know
            packs = self.packs(again)
            for i, pack in enumerate(packs):
                offset = pack.find(raw)
                if offset is not None:
                    if i:  # the next objects read are likely its neighbours (a run's pack): look there first
                        packs.insert(0, packs.pop(i))
                    return pack, offset
        return None

    def _read_packed(self, oid: str) -> tuple[str, bytes]:
        for _attempt in range(2):
            found = self._find_packed(bytes.fromhex(oid))
            if found is None:
                break
            try:
                return self._read_found(oid, found)
            except FileNotFoundError:  # its pack was removed meanwhile
                self._packs = None
        raise IntegrityError(f"git object {oid[:12]} is missing")

    def _read_found(self, oid: str, found: tuple[GitPack, int]) -> tuple[str, bytes]:
        try:
            kind, body = found[0].read(found[1], self._base)
        except (PackError, zlib.error, IndexError, KeyError, ValueError) as exc:
            raise IntegrityError(f"git object {oid[:12]} is unreadable ({exc})") from None
        if sha1(b"%s %d\0" % (kind.encode(), len(body)) + body).hexdigest() != oid:
            raise IntegrityError(f"git object {oid[:12]} is corrupt (its content does not match its id)")
        return kind, body

    def _base(self, raw: bytes) -> tuple[str, bytes]:
        """A REF_DELTA base held elsewhere (another pack, or loose)."""
        return self.read(raw.hex())

    # -- objects held in memory -------------------------------------------------------
    def hold(self, objects: dict[str, tuple[str, bytes]]) -> None:
        """Serve these objects from memory until `release`: {id: (type, body)}, each id computed from its object
        (`packscan.scan_pack` of a pack a pull imports: it reads them while git checks the pack)."""
        self._held.update(objects)
        self.held_bytes += sum(len(body) + HELD_OVERHEAD for _kind, body in objects.values())

    def release(self) -> None:
        self.held_bytes = 0
        if self._held:
            self._held = {}
            self._parsed.clear()  # parsed from held objects: a pack git refused leaves nothing behind

    # -- reading ----------------------------------------------------------------------
    def read(self, oid: str) -> tuple[str, bytes]:
        """(type, body) of an object; IntegrityError if it is missing or corrupt."""
        if self._held:
            found = self._held.get(oid)
            if found is not None:
                return found
        found = self._batches and self._pending(oid)
        if found:
            return found
        if not is_oid(oid):
            raise IntegrityError(f"damaged reference: {oid[:40]!r} is not an object id")
        if self._packs:  # most objects are packed once a repository has packs: look there first
            found = self._find_packed(bytes.fromhex(oid), refresh=False)
            if found is not None:
                try:
                    return self._read_found(oid, found)
                except FileNotFoundError:  # a repack merged that pack away since we listed it
                    return self._read_packed(oid)
        try:
            raw = zlib.decompress(read_file(f"{self._objects}/{oid[:2]}/{oid[2:]}"))
        except (FileNotFoundError, NotADirectoryError):
            return self._read_packed(oid)
        except (OSError, zlib.error) as exc:  # out of files (starved) is not damage
            raise exc if starved(exc) else IntegrityError(f"git object {oid[:12]} is unreadable ({exc})") from None
        header, sep, body = raw.partition(b"\0")
        kind, _, size = header.partition(b" ")
        if not sep or not size.isdigit() or int(size) != len(body) or sha1(raw).hexdigest() != oid:
            raise IntegrityError(f"git object {oid[:12]} is corrupt (its content does not match its id)")
        return kind.decode("ascii", "replace"), body

    def contains(self, oid: str) -> bool:
        if oid in self._held or (self._batches and self._pending(oid) is not None):
            return True
        if not is_oid(oid):
            return False
        if self._packs and self._find_packed(bytes.fromhex(oid), refresh=False) is not None:
            return True
        if os.path.exists(f"{self._objects}/{oid[:2]}/{oid[2:]}"):
            return True
        return self._find_packed(bytes.fromhex(oid)) is not None or os.path.exists(
            f"{self._objects}/{oid[:2]}/{oid[2:]}")  # packed and removed while we looked

    def missing_among(self, oids) -> set[str]:
        """Those of `oids` not here (`contains` for many: a pack asked about many has its names read once)."""
        oids = [o for o in oids if o not in self._held and not (self._batches and self._pending(o))]
        bad = {o for o in oids if not is_oid(o)}
        left = {bytes.fromhex(o) for o in oids if o not in bad} if bad else {bytes.fromhex(o) for o in oids}
        for pack in self.packs(False) if left else ():
            if len(left) * 8 >= pack.count:
                left -= pack.names()
            else:
                left = {raw for raw in left if pack.find(raw) is None}
            if not left:
                break
        return bad | {raw.hex() for raw in left if not self.contains(raw.hex())}  # loose, or packed meanwhile

    def _typed(self, oid: str, kind: str, what: str = "") -> bytes:
        got, body = self.read(oid)
        if got != kind:
            raise IntegrityError(f"git object {oid[:12]}{what} is a {got}, not a {kind}")
        return body

    def blob(self, oid: str) -> bytes:
        return self._typed(oid, "blob")

    def commit(self, oid: str) -> Commit:
        found = self._parsed.get(oid)
        if found is None:
            found = self._remember(oid, parse_commit(oid, self._typed(oid, "commit")))
        return found

    def tree(self, oid: str) -> dict[str, tuple[str, str]]:
        found = self._parsed.get(oid)
        if found is None:
            found = self._remember(oid, tree_entries(self._typed(oid, "tree")))
        return found

    def _remember(self, oid: str, value):
        if len(self._parsed) > _PARSED_MAX:
            self._parsed.clear()
        self._parsed[oid] = value
        return value

    def _entry(self, commit: str, path: str) -> tuple[str, str] | None:
        entry = (TREE, self.commit(commit).tree_id)
        for part in path.split("/") if path else ():
            if entry[0] != TREE:
                return None
            entry = self.tree(entry[1]).get(part)
            if entry is None:
                return None
        return entry

    def tree_has(self, commit: str, path: str) -> bool:
        """Whether a commit's tree holds a file at `path` (its blob is not read)."""
        entry = self._entry(commit, path)
        return entry is not None and entry[0] != TREE

    def tree_file(self, commit: str, path: str) -> bytes | None:
        """Bytes of the blob at `path` in a commit's tree, or None if there is none."""
        entry = self._entry(commit, path)
        if entry is None or entry[0] == TREE:
            return None
        return self._typed(entry[1], "blob", f" ({path} of {commit[:12]})")

    def tree_listing(self, commit: str, path: str) -> dict[str, str]:
        """{name: oid} of the entries under `path` ("" for the root) in a commit's tree."""
        entry = self._entry(commit, path)
        if entry is None or entry[0] != TREE:
            return {}
        return {name: oid for name, (_mode, oid) in self.tree(entry[1]).items()}

    def expand_prefix(self, prefix: str) -> list[str]:
        """Full ids of the commits whose id starts with `prefix` (several if ambiguous)."""
        found = set()
        try:
            names = os.listdir(f"{self._objects}/{prefix[:2]}") if len(prefix) >= 2 else []
        except FileNotFoundError:
            names = []
        found.update(prefix[:2] + n for n in names if (prefix[:2] + n).startswith(prefix) and is_oid(prefix[:2] + n))
        for pack in self.packs(refresh=True):
            found.update(pack.with_prefix(prefix, limit=16))
        return sorted(oid for oid in found if self._kind(oid) == "commit")

    def _kind(self, oid: str) -> str | None:
        try:
            return self.read(oid)[0]
        except IntegrityError:
            return None

    # -- writing ----------------------------------------------------------------------
    def batch(self) -> Batch:
        """`with objects.batch() as batch:` objects this thread writes go to disk as one git pack (batch.py)."""
        return Batch(self)

    def _pending(self, oid: str) -> tuple[str, bytes] | None:
        batch = self._batches.get(get_ident())
        return batch and batch.get(oid)

    def write(self, kind: str, body: bytes) -> str:
        """Store an object as a loose file (temp, rename, mode 0444) without fsync, or in this thread's batch."""
        raw = f"{kind} {len(body)}\0".encode() + body
        oid = sha1(raw).hexdigest()  # object_id, inline: the raw bytes are deflated below
        folder = f"{self._objects}/{oid[:2]}"
        final = f"{folder}/{oid[2:]}"
        try:
            os.utime(final)  # there already: young again, so that gc's grace period protects it (as git freshens)
            return oid
        except FileNotFoundError:
            pass
        except OSError:
            return oid
        if batch := self._batches and self._batches.get(get_ident()):
            batch.add(oid, kind, body)
            return oid
        data = deflate(raw)
        for attempt in range(10):
            # `git gc` removes emptied object folders: one may vanish between mkdir and rename
            if attempt:
                os.makedirs(folder, exist_ok=True)
            tmp = f"{folder}/tmp_obj_{os.getpid()}_{time.monotonic_ns()}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
                os.replace(tmp, final)  # same name, same bytes: replacing a concurrent copy is harmless
                return oid
            except FileNotFoundError:
                if attempt == 9:
                    raise
        raise AssertionError("unreachable")

    def write_blob(self, data: bytes) -> str:
        return self.write("blob", data)

    def write_tree(self, entries: dict) -> str:
        """A tree from {name: bytes (a new blob) | Blob(oid) | dict (a sub-tree) | (mode, oid)}."""
        rows = []
        for name, value in entries.items():
            if isinstance(value, dict):
                rows.append((TREE, name, self.write_tree(value)))
            elif isinstance(value, Blob):
                rows.append((BLOB, name, value.id))
            elif isinstance(value, tuple):
                rows.append((value[0], name, value[1]))
            else:
                rows.append((BLOB, name, self.write_blob(value)))
        return self.write_tree_rows(rows)

    def write_tree_rows(self, rows: list[tuple[str, str, str]]) -> str:
        """A tree from (mode, name, oid) rows, in any order (git's order is applied here)."""
        def order(row):
            name = row[1].encode("utf-8", "surrogateescape")
            return name + b"/" if row[0] == TREE else name

        body = b"".join(f"{mode} ".encode() + name.encode("utf-8", "surrogateescape") + b"\0" + bytes.fromhex(oid)
                        for mode, name, oid in sorted(rows, key=order))
        return self.write("tree", body)

    def write_commit(self, tree: str, parents: list[str], message: str, time_ns: int) -> str:
        """A commit by artrepo at `time_ns` (whole seconds, UTC), the bytes libgit2 would write."""
        stamp = f"{IDENTITY} {time_ns // 1_000_000_000} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {stamp}", f"committer {stamp}"]
        return self.write("commit", ("\n".join(lines) + "\n\n" + message).encode())

    def insert_path(self, tree: str | None, path: list[str], data: bytes) -> str:
        """A new tree: `tree` (or an empty one) with the blob `data` at `path`."""
        rows = {name: (mode, oid) for name, (mode, oid) in (self.tree(tree).items() if tree else ())}
        head, rest = path[0], path[1:]
        if not rest:
            rows[head] = (BLOB, self.write_blob(data))
        else:
            existing = rows.get(head)
            rows[head] = (TREE, self.insert_path(existing[1] if existing and existing[0] == TREE else None, rest, data))
        return self.write_tree_rows([(mode, name, oid) for name, (mode, oid) in rows.items()])

    def union_trees(self, a: str, b: str) -> str:
        """Entries of both trees; sub-trees present on both sides are merged, `a` wins other clashes."""
        rows = dict(self.tree(a))
        for name, (mode, oid) in self.tree(b).items():
            mine = rows.get(name)
            if mine is None:
                rows[name] = (mode, oid)
            elif mine[1] != oid and mode == TREE and mine[0] == TREE:
                rows[name] = (TREE, self.union_trees(mine[1], oid))
        return self.write_tree_rows([(mode, name, oid) for name, (mode, oid) in rows.items()])

    # -- history ----------------------------------------------------------------------
    def walk(self, include, exclude=()) -> list[Commit]:
        """Commits reachable from `include` but not from `exclude`, newest first (as `git log`)."""
        import pygit2

        walker = self.git.walk(None, pygit2.enums.SortMode.TIME)
        for oid in include:
            walker.push(oid)
        for oid in exclude:
            walker.hide(oid)
        return [Commit(str(c.id), str(c.tree_id), tuple(map(str, c.parent_ids)), c.commit_time, c.message)
                for c in walker]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `descendant` reaches `ancestor` (a commit reaches itself)."""
        return ancestor == descendant or self.git.descendant_of(descendant, ancestor)
