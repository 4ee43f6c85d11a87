"""The storage view: what `artrepo du` reports, counted in the background.

`artrepo.maintenance.du.usage` (the code of `artrepo du`, local or remote)
reads every manifest and pack footer, which takes a while on a big
repository, so it runs once per change of the catalog in a thread with its own `Repository` (pygit2 objects are not shared
between threads); the page shows the last finished count and says when a
newer one is on its way.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class StorageReport:
    ready: bool = False
    counting: bool = False
    usage: dict = field(default_factory=dict)  # the `du --json` document
    error: str | None = None


_LOCK = threading.Lock()
_STATE: dict[int, tuple[object, StorageReport]] = {}  # id(dashboard) -> (catalog signature, report)


def report(dash) -> StorageReport:
    """The latest count for this dashboard, starting a new one if the repository changed."""
    signature = (len(dash.catalog.versions), dash.catalog.signature)
    with _LOCK:
        known, current = _STATE.get(id(dash), (None, StorageReport()))
        if known != signature and not current.counting:
            current.counting = True
            _STATE[id(dash)] = (signature, current)
            threading.Thread(target=_count, args=(dash, signature), daemon=True).start()
        return current


def _count(dash, signature) -> None:
    from artrepo.maintenance.du import usage
    from artrepo.maintenance.view import LocalView
    from artrepo.repository import Repository

    result = StorageReport(ready=True)
    repo = None
    try:
        repo = Repository(dash.repo.root)
        result.usage = usage(LocalView(repo))
    except Exception as exc:  # shown on the page; the dashboard keeps serving
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if repo is not None:
            repo.close()
    with _LOCK:
        _STATE[id(dash)] = (signature, result)
