"""The storage view: what `artrepo du` reports, counted in the background.

`artrepo du --json` reads every manifest and pack footer, which takes a
while on a big repository, so it runs once per change of the catalog in a
child process (in a thread, it held the interpreter's lock away from the
pages for seconds); the page shows the last finished count and says when a
newer one is on its way.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property


@dataclass
class StorageReport:
    ready: bool = False
    counting: bool = False
    usage: dict = field(default_factory=dict)  # the `du --json` document
    error: str | None = None

    @cached_property
    def artifacts(self) -> list[dict]:
        """The artifacts of the count, the largest first."""
        return sorted(self.usage.get("artifacts", []), key=lambda a: a["logical_bytes"], reverse=True)


_LOCK = threading.Lock()
_STATE: dict[int, tuple[object, StorageReport]] = {}  # id(dashboard) -> (catalog signature, report)


def report(dash) -> StorageReport:
    """The latest count for this dashboard, starting a new one if the repository changed."""
    signature = dash.catalog.generation
    with _LOCK:
        known, current = _STATE.get(id(dash), (None, StorageReport()))
        if known != signature and not current.counting:
            current.counting = True
            _STATE[id(dash)] = (signature, current)
            threading.Thread(target=_count, args=(dash, signature), daemon=True).start()
        return current


def _count(dash, signature) -> None:
    import json
    import subprocess
    import sys

    result = StorageReport(ready=True)
    try:
        done = subprocess.run([sys.executable, "-m", "artrepo", "du", "--json"], cwd=dash.repo.root,
                              capture_output=True, text=True)
        if done.returncode:
            result.error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        else:
            result.usage = json.loads(done.stdout)
    except (OSError, ValueError) as exc:  # shown on the page; the dashboard keeps serving
        result.error = f"{type(exc).__name__}: {exc}"
    with _LOCK:
        _STATE[id(dash)] = (signature, result)
