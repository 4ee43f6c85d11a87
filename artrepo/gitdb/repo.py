"""Open or create the bare git repository that holds artrepo's metadata.

Config set at init (docs/format.md, "Configuration"): format version 0 with
no `extensions.*` (stock git and libgit2 refuse unknown extensions),
`core.logAllRefUpdates=always` so alias refs keep a reflog, `gc.auto=0`, an
identity for reflog entries, and HEAD on `refs/heads/runs`. artrepo's own
format version lives in an `[artrepo]` section, which git ignores.
"""
from __future__ import annotations

from pathlib import Path

import pygit2

from artrepo.errors import FormatError
from artrepo.gitdb.layout import IDENTITY_EMAIL, IDENTITY_NAME

FORMAT_VERSION = 1

pygit2.settings.enable_fsync_gitdir(True)


def init_git(path: Path, settings: dict[str, str]) -> pygit2.Repository:
    repo = pygit2.init_repository(str(path), bare=True)
    cfg = repo.config
    cfg["core.repositoryformatversion"] = 0
    cfg["core.logAllRefUpdates"] = "always"
    cfg["gc.auto"] = 0
    cfg["user.name"], cfg["user.email"] = IDENTITY_NAME, IDENTITY_EMAIL
    cfg["artrepo.formatVersion"] = FORMAT_VERSION
    for key, value in settings.items():
        cfg[f"artrepo.{key}"] = value
    (path / "HEAD").write_text("ref: refs/heads/runs\n")
    return repo


def open_git(path: Path) -> pygit2.Repository:
    try:
        repo = pygit2.Repository(str(path))
    except pygit2.GitError as exc:
        raise FormatError(f"{path}: not a readable git repository ({exc})") from None
    try:
        version = int(repo.config["artrepo.formatVersion"])
    except (KeyError, ValueError):
        raise FormatError(f"{path}: no artrepo format version in its config") from None
    if version != FORMAT_VERSION:
        raise FormatError(
            f"{path}: repository format version {version} is not supported by this artrepo "
            f"(it reads version {FORMAT_VERSION}); upgrade artrepo"
        )
    return repo
