"""Progress on a terminal only, and the one-line summary of a transfer."""
from __future__ import annotations

import sys
import time

from artrepo.sizes import human_size


class Progress:
    """`advance(bytes)` per object; draws `label: objects, bytes, rate` on stderr if it is a TTY."""

    def __init__(self, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label, self.total = "", 0
        self.objects = self.bytes = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def start(self, label: str, total_objects: int) -> None:
        self.label, self.total, self.objects, self.bytes = label, total_objects, 0, 0
        self.started = time.monotonic()

    def advance(self, nbytes: int) -> None:
        self.objects += 1
        self.bytes += nbytes
        now = time.monotonic()
        if self.enabled and (now - self._drawn > 0.1 or self.objects == self.total):
            self._drawn = now
            rate = self.bytes / max(now - self.started, 1e-6)
            self.stream.write(f"\r{self.label}: {self.objects}/{self.total} objects, {human_size(self.bytes)}, "
                              f"{human_size(rate)}/s   ")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.objects:
            self.stream.write("\n")
            self.stream.flush()


class Silent(Progress):
    def __init__(self):
        super().__init__(enabled=False)


def summary(result, verb: str) -> list[str]:
    """The lines printed after a transfer: renumbering notices, then one line of figures."""
    lines = [f"renumbered {r}: the {'remote' if verb == 'pushed' else 'local'} label was taken"
             for r in result.renumbered]
    where = f"{'to' if verb == 'pushed' else 'from'} {result.remote}"
    if result.up_to_date:
        return lines + [f"{verb} nothing {where}: already up to date"]
    saved = (100.0 * result.bytes_already / result.bytes_logical) if result.bytes_logical else 0.0
    moved = "sent" if verb == "pushed" else "received"
    lines.append(f"{verb} {result.versions} version(s), {result.refs} other ref(s) {where}: {moved} "
                 f"{human_size(result.bytes_sent)} in {result.packs} pack(s), {human_size(result.bytes_already)} "
                 f"already there (dedup saving {saved:.0f}%)")
    return lines
