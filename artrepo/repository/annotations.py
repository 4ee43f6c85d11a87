"""Annotations of a Repository: tags and metadata added to versions later (docs/format.md §7, §8).

The rule for reading them (docs/reliability.md, "Threat model", item 7):

- an annotation is applied at its date; one written here is dated by its
  `created_ns`; one merged from a remote (a pull, or the union a push makes
  first) by the earlier of its `created_ns` and the moment it arrived here,
  recorded in `annotations-arrived` before the annotations ref moves. A
  teammate can date an annotation in the past, never after its arrival:
  whatever is annotated here afterwards wins. Ties go by blob id.
- an annotation that does not decode, or names another version than the one
  it is filed under, is skipped with a warning, never fatal (`fsck` reports it);
- `annotated()` says where each one came from (None: here; else the remote).
"""
from __future__ import annotations

import contextlib
import os
import time
import warnings

from artrepo.errors import ArtrepoError, FormatError
from artrepo.gitdb import layout
from artrepo.gitdb.objects import TREE
from artrepo.records.artifact import Annotation


def read_annotation(objects, version_id: str, blob: str) -> Annotation:
    """The annotation in `blob`, filed under `version_id`; FormatError if it is not one of that version."""
    note = Annotation.from_msgpack(objects.blob(blob))
    if note.version_id != version_id:
        raise FormatError(f"annotation {blob[:12]} is filed under {version_id[:12]} but names {note.version_id[:12]!r}")
    return note


class Annotations:
    """The annotations part of `Repository` (a mixin: it uses `objects`, `refs` and `git_dir`)."""

    def annotate(self, version_id: str, tags=(), metadata=None, removed_tags=(), deleted: bool = False) -> None:
        from artrepo.storage.hashing import digest

        note = Annotation(version_id, tuple(tags), dict(metadata or {}), time.time_ns(), tuple(removed_tags),
                          deleted)
        data = note.to_msgpack()
        path = [version_id[:2], version_id[2:], digest(data).hex()[:32]]

        def decide(current: str | None) -> str:
            base = self.objects.commit(current).tree_id if current else None
            tree = self.objects.insert_path(base, path, data)
            return self.objects.write_commit(tree, [current] if current else [], "annotate " + version_id[:12],
                                             note.created_ns)

        self.refs.update(layout.ANNOTATIONS, decide, "annotate " + version_id[:12])

    def merge_annotations(self, theirs: str | None, origin: str = "a remote") -> str | None:
        """Join another annotation chain (from the remote `origin`) into ours; returns our tip.

        The result is theirs, ours, or a union merge commit. The annotations it
        brings are recorded as arrived now before the ref moves (the ref update's
        filesystem sync makes the record durable first).
        """
        def decide(ours: str | None) -> str | None:
            if theirs is None or ours == theirs:
                return ours
            ours_tree = self.objects.commit(ours).tree_id if ours else None
            self._record_arrivals(self._new_blobs(ours_tree, self.objects.commit(theirs).tree_id, 3), origin)
            if ours is None or self.objects.is_ancestor(ours, theirs):
                return theirs
            if self.objects.is_ancestor(theirs, ours):
                return ours
            tree = self.objects.union_trees(ours_tree, self.objects.commit(theirs).tree_id)
            return self.objects.write_commit(tree, [ours, theirs], "merge annotations", time.time_ns())

        return self.refs.update(layout.ANNOTATIONS, decide, "merge annotations")

    def _new_blobs(self, ours: str | None, theirs: str, depth: int) -> list[str]:
        """Blob ids `depth` levels under the tree `theirs` that the tree `ours` lacks (compared level by level;
        entries of another shape are not annotations: readers never look at them)."""
        mine = self.objects.tree(ours) if ours else {}
        out = []
        for name, (mode, oid) in self.objects.tree(theirs).items():
            have_mode, have = mine.get(name, (None, None))
            if oid == have or (mode == TREE) != (depth > 1):
                continue
            out += self._new_blobs(have if have_mode == TREE else None, oid, depth - 1) if depth > 1 else [oid]
        return out

    def _record_arrivals(self, blobs: list[str], origin: str) -> None:
        if not blobs:
            return
        now = time.time_ns()
        lines = "".join(f"{blob} {now} {origin}\n" for blob in blobs)
        fd = os.open(layout.annotation_arrivals(self.git_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)

    def _arrivals(self) -> dict[str, tuple[int, str]]:
        """{blob id: (arrival ns, remote)}, the first arrival of each (re-read when the file changed)."""
        path = layout.annotation_arrivals(self.git_dir)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self.__dict__.get("_arrivals_cache")
        if cached is not None and cached[0] == stamp:
            return cached[1]
        out: dict[str, tuple[int, str]] = {}
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                blob, _, rest = line.rstrip("\n").partition(" ")
                when, _, origin = rest.partition(" ")
                if when.isdigit():
                    out.setdefault(blob, (int(when), origin))
        self.__dict__["_arrivals_cache"] = (stamp, out)
        return out

    @contextlib.contextmanager
    def snapshot(self):
        """Within the block the annotations ref is read once (listings of many versions)."""
        self._annotations_head = self.refs.get(layout.ANNOTATIONS)
        try:
            yield self
        finally:
            del self._annotations_head

    def _annotations_ref(self) -> str | None:
        if "_annotations_head" in self.__dict__:  # inside snapshot()
            return self.__dict__["_annotations_head"]
        return self.refs.get(layout.ANNOTATIONS)

    def annotations(self, version_id: str) -> list[Annotation]:
        """The readable annotations of a version, in the order they apply (module docstring)."""
        return [note for note, _origin in self.annotated(version_id)]

    def annotated(self, version_id: str, head: str | None = None) -> list[tuple[Annotation, str | None]]:
        """(annotation, remote it came from or None) of a version, in the order they apply."""
        head = head or self._annotations_ref()
        if head is None:
            return []
        blobs = self.objects.tree_listing(head, f"{version_id[:2]}/{version_id[2:]}")
        arrived = self._arrivals()
        dated = []
        for blob in blobs.values():
            try:
                note = read_annotation(self.objects, version_id, blob)
            except ArtrepoError as exc:
                # shown once per process (one warning location, one message)
                warnings.warn(f"skipped an unreadable annotation of {version_id[:12]}: {exc}", UserWarning)
                continue
            when, origin = arrived.get(blob, (note.created_ns, None))
            dated.append((min(note.created_ns, when), blob, note, origin))
        dated.sort(key=lambda d: d[:2])
        return [(note, origin) for _when, _blob, note, origin in dated]

    def all_annotations(self) -> tuple[str | None, dict[str, list[Annotation]]]:
        """(annotations ref, {version id: its annotations in the order they apply}) for every annotated id."""
        head = self.refs.get(layout.ANNOTATIONS)
        out: dict[str, list[Annotation]] = {}
        if head is not None:
            for top in self.objects.tree_listing(head, ""):
                for rest in self.objects.tree_listing(head, top):
                    notes = self.annotated(top + rest, head)
                    if notes:
                        out[top + rest] = [note for note, _origin in notes]
        return head, out
