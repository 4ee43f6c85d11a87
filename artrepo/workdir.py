"""The repository of the working directory as the public API opens it.

    repo = active_repository()   # opened once per process
"""
from __future__ import annotations

import os

from artrepo.repository import Repository, active


def active_repository(root: str | os.PathLike | None = None) -> Repository:
    """The repository containing `root` (default: the working directory), opened once per process.

    A repository that pulled from remotes fetches missing chunks from them on demand.
    """
    from artrepo.remotes.lazy import install_lazy_fetch

    repo = active(root)
    install_lazy_fetch(repo)
    return repo
