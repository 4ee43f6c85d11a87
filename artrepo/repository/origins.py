"""Which remote each pulled version came from (docs/format.md §2, `origins/`): local, never pushed.

    origins = Origins(git_dir)
    origins.add({version_id: "origin", ...})   # one file per pull, durable before the refs
    origins.get(version_id)                     # "origin", or None for a version written here

A pull of 10,000 versions writes one file, `origins/pulled-<hash>`: lines
`<version id> <remote>`, sorted by version id, searched in place. Older
artrepo versions wrote one file per version, `origins/<version id>` (one
line: the remote); both are read. Files are immutable once written; a
version is never in two with different remotes (a version pulled again keeps its first origin).
"""
from __future__ import annotations

import os
from pathlib import Path

from artrepo.atomic import write_atomic
from artrepo.gitdb import layout

BATCH = "pulled-"


class Origins:
    def __init__(self, git_dir: Path):
        self.folder = layout.origins_dir(git_dir)
        self._stamp = None
        self._batches: dict[str, bytes] = {}

    def get(self, version_id: str) -> str | None:
        try:
            return (self.folder / version_id).read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            pass
        key = version_id.encode("ascii", "replace")
        for data in self._batch_data().values():
            found = _search(data, key)
            if found is not None:
                return found
        return None

    def _batch_data(self) -> dict[str, bytes]:
        """The batch files' bytes, re-listed only when the folder changed."""
        try:
            st = os.stat(self.folder)
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            names = [n for n in os.listdir(self.folder) if n.startswith(BATCH)]
            data = {}
            for name in names:
                try:
                    data[name] = self._batches.get(name) or (self.folder / name).read_bytes()
                except FileNotFoundError:
                    continue
            self._batches, self._stamp = data, stamp
        return self._batches

    def all(self) -> dict[str, str]:
        """{version id: remote} of every pulled version."""
        out: dict[str, str] = {}
        for data in self._batch_data().values():
            for line in data.decode("utf-8", "replace").splitlines():
                vid, _, remote = line.partition(" ")
                if remote:
                    out.setdefault(vid, remote)
        try:
            singles = [n for n in os.listdir(self.folder) if not n.startswith((BATCH, "."))]
        except FileNotFoundError:
            singles = []
        for vid in singles:
            remote = self.get(vid)
            if remote:
                out[vid] = remote
        return out

    def add(self, origins: dict[str, str]) -> None:
        """Record where these versions came from (those already known keep their origin), durably."""
        if not origins:
            return
        try:  # the folder listed once: not one failed open per version of a 10,000-version pull
            singles = set(os.listdir(self.folder))
        except FileNotFoundError:
            singles = set()
        batches = list(self._batch_data().values())
        new = {vid: remote for vid, remote in origins.items() if (vid not in singles or self.get(vid) is None)
               and all(_search(data, vid.encode("ascii", "replace")) is None for data in batches)}
        if new:
            from artrepo.storage.hashing import digest

            data = "".join(f"{vid} {remote}\n" for vid, remote in sorted(new.items())).encode()
            write_atomic(self.folder / (BATCH + digest(data).hex()[:32]), data)


def _search(data: bytes, key: bytes) -> str | None:
    """The remote of `key` in sorted `<id> <remote>` lines (binary search over the bytes)."""
    lo, hi = 0, len(data)
    while lo < hi:
        mid = (lo + hi) // 2
        start = data.rfind(b"\n", lo, mid) + 1 if mid > lo else lo
        start = max(start, lo)
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if data[start:start + 40] < key:
            lo = end + 1
        else:
            hi = start
    end = data.find(b"\n", lo)
    line = data[lo:len(data) if end < 0 else end]
    if line[:40] == key and line[40:41] == b" ":
        return line[41:].decode("utf-8", "replace") or None
    return None
