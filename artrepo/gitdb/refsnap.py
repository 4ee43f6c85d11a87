"""What a repository's published refs were at one moment, kept for the price of a hard link.

    then = RefSnapshot.load(folder)            # as the last push left it (None: never taken)
    now = RefSnapshot.take(git_dir, folder)    # links packed-refs, reads the few loose refs
    changed = then.changes(now)                # {ref: value now, None if gone}: the refs that moved
    now.save(folder, disagree)                 # once the push is done; else now.discard()

Saves write loose refs and packing moves them into `packed-refs`, which is
only ever replaced by a rename, never edited in place. So a hard link to the
file keeps that version of it for as long as the link exists, and a
snapshot is that link plus the published loose refs (`loose`, a few: packing
runs every few dozen saves). Two snapshots differ only in their loose refs
and, when packing ran in between, in the lines of the two packed-refs files
(compared as sets of lines, in C): what changed since the last push is found
without reading the 100,000 refs that did not. Derived refs (heads, pipeline
and cache refs) are not part of it.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import msgpack

from artrepo.atomic import write_atomic
from artrepo.gitdb import layout
from artrepo.gitdb.files import loose_refs
from artrepo.gitdb.objects import is_oid
from artrepo.gitdb.packedrefs import PackedRefs

_DERIVED_FOLDERS = {d[len(layout.PREFIX):].rstrip("/") for d in layout.DERIVED}


class RefSnapshot:
    def __init__(self, packed_path: Path | None, loose: dict[str, str], disagree=(), key: str = "",
                 other=None):
        self.packed_path = packed_path  # a hard link to the packed-refs of that moment, or None: there was none
        self.loose = loose
        self.disagree = set(disagree)  # refs whose value the other side did not take (compared every time)
        self.key = key  # names its link: `packed-refs-<key>`
        self.other = other  # what the caller noted of the other side then (msgpack-able)
        self._packed: PackedRefs | None = None

    @property
    def packed(self) -> PackedRefs:
        if self._packed is None:
            self._packed = PackedRefs(self.packed_path.read_bytes() if self.packed_path is not None else b"")
        return self._packed

    @classmethod
    def take(cls, git_dir: Path, folder: Path) -> "RefSnapshot":
        """The published refs now: packed-refs linked into `folder` first, then the loose refs (a ref packed in
        between is in both or, moved, in the next packed-refs: compared again next time)."""
        folder.mkdir(parents=True, exist_ok=True)
        key = f"{os.getpid()}-{time.time_ns()}"
        link = folder / f"packed-refs-{key}"
        try:
            os.link(git_dir / "packed-refs", link)
        except FileNotFoundError:
            link = None
        # the loose refs a transfer exchanges (derived folders skipped)
        loose = loose_refs(git_dir, layout.PREFIX, skip=_DERIVED_FOLDERS)
        return cls(link, {ref: text for ref, text in loose.items() if is_oid(text)}, key=key)

    @classmethod
    def load(cls, folder: Path) -> "RefSnapshot | None":
        try:
            doc = msgpack.unpackb((folder / "synced").read_bytes())
            loose, disagree, key, packed, other = doc["loose"], doc["disagree"], doc["key"], doc["packed"], doc["other"]
        except (FileNotFoundError, ValueError, KeyError, TypeError, msgpack.UnpackException):
            return None
        if type(loose) is not dict or type(disagree) is not list or type(key) is not str:
            return None
        path = folder / f"packed-refs-{key}"
        if packed != path.exists():
            return None
        return cls(path if packed else None, loose, disagree, key, other)

    def save(self, folder: Path, disagree=(), other=None) -> None:
        """Make this snapshot the one the next push compares with (`disagree`: refs to compare anyway; `other`:
        what to note of the other side); the link of the one it replaces goes, and so do links that crashed
        pushes left (older than a day)."""
        before = RefSnapshot.load(folder)
        doc = {"loose": self.loose, "disagree": sorted(disagree), "key": self.key,
               "packed": self.packed_path is not None, "other": other}
        write_atomic(folder / "synced", msgpack.packb(doc), sync=False, sync_dir=False)  # lost: next push compares all
        if before is not None and before.packed_path is not None and before.key != self.key:
            before.packed_path.unlink(missing_ok=True)
        old = time.time() - 86400
        for path in folder.glob("packed-refs-*"):
            with contextlib.suppress(FileNotFoundError):
                if path.name != f"packed-refs-{self.key}" and path.lstat().st_ctime < old:
                    path.unlink()

    def discard(self) -> None:
        """Drop the link of a snapshot taken but not saved."""
        if self.packed_path is not None:
            current = RefSnapshot.load(self.packed_path.parent)
            if current is None or current.key != self.key:
                self.packed_path.unlink(missing_ok=True)

    def get(self, ref: str) -> str | None:
        found = self.loose.get(ref)
        return found if found is not None else self.packed.get(ref)

    def publishes(self, oid: str, ref: str) -> bool:
        """Whether a ref other than `ref` holds `oid` (one search of the packed-refs bytes)."""
        if any(v == oid and r != ref for r, v in self.loose.items()):
            return True
        return any(other != ref and self.loose.get(other, oid) == oid for other in self.packed.holding(oid))

    def refs(self) -> dict[str, str]:
        """Every published ref of the snapshot."""
        out = {ref: oid for ref, oid in self.packed.items(layout.PREFIX)
               if layout.ref_kind(ref) != "derived" and is_oid(oid)}
        out.update(self.loose)
        return out

    def changes(self, now: "RefSnapshot") -> dict[str, str | None]:
        """The published refs whose value differs between this snapshot and `now` ({ref: value now or None}),
        and those this snapshot was told to compare anyway."""
        candidates = set(self.loose) | set(now.loose) | self.disagree
        if not _same_file(self.packed_path, now.packed_path):
            old = set(self.packed.data[self.packed.start:].split(b"\n"))
            new = set(now.packed.data[now.packed.start:].split(b"\n"))
            candidates.update(line[41:].decode("utf-8", "surrogateescape") for line in old ^ new if len(line) > 41)
        out = {}
        for ref in candidates:
            if not ref.startswith(layout.PREFIX) or layout.ref_kind(ref) == "derived":
                continue
            value = now.get(ref)
            if value != self.get(ref) or ref in self.disagree:
                out[ref] = value
        return out


def _same_file(a: Path | None, b: Path | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return os.path.samefile(a, b)
    except FileNotFoundError:
        return False
