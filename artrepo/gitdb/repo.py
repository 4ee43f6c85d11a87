"""Create, open and configure the bare git repository that holds artrepo's metadata.

Config set at init (docs/format.md, "Configuration"): format version 0 with
no `extensions.*` (stock git and libgit2 refuse unknown extensions),
`core.logAllRefUpdates=always` so alias refs keep a reflog, `gc.auto=0`, an
identity for reflog entries, and HEAD on `refs/heads/runs`. artrepo's own
format version lives in an `[artrepo]` section, which git ignores.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from artrepo.errors import FormatError, IntegrityError, UserError
from artrepo.gitdb.layout import IDENTITY_EMAIL, IDENTITY_NAME, RUNS_HEAD

FORMAT_VERSION = 2  # written by init and by the first packing of an older repository
READABLE = (1, 2)  # version 1: no format 2 index files, label counters or lock stripes yet (docs/format.md §12)


def init_git(path: Path, settings: dict[str, str]) -> None:
    import pygit2

    repo = pygit2.init_repository(str(path), bare=True)
    cfg = repo.config
    cfg["core.repositoryformatversion"] = 0
    cfg["core.logAllRefUpdates"] = "always"
    cfg["gc.auto"] = 0
    cfg["user.name"], cfg["user.email"] = IDENTITY_NAME, IDENTITY_EMAIL
    cfg["artrepo.formatVersion"] = FORMAT_VERSION
    for key, value in settings.items():
        cfg[f"artrepo.{key}"] = value
    (Path(path) / "HEAD").write_text(f"ref: {RUNS_HEAD}\n")


_SECTIONS: dict[str, tuple[tuple, dict[str, str]]] = {}  # config path -> (its stat stamp, its [artrepo] section)


def artrepo_settings(path) -> dict[str, str]:
    """The `[artrepo]` section of the repository's config file, read without pygit2: {lowercased key:
    value without a trailing comment or quotes} ({} if the file cannot be read). Parsed again only when
    the file changed (each save asks); the dict is shared: do not change it."""
    config = os.path.join(path, "config")
    try:
        st = os.stat(config)
    except OSError:
        return {}
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _SECTIONS.get(config)
    if cached is None or cached[0] != stamp:
        cached = _SECTIONS[config] = (stamp, _section(config))
    return cached[1]


def _section(config: str) -> dict[str, str]:
    section, found = None, {}
    try:
        with open(config, errors="replace") as f:
            text = f.read()
    except OSError:
        return found
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip().lower()
        elif section == "artrepo" and "=" in stripped:
            key, _, value = stripped.partition("=")
            found[key.strip().lower()] = value.split("#")[0].strip().strip('"')
    return found


def read_format(path: Path) -> int | None:
    """`artrepo.formatVersion` from the config file, read without pygit2 (None if absent or unusual)."""
    value = artrepo_settings(path).get("formatversion", "")
    return int(value) if value.isdigit() else None


def check_format(path: Path) -> None:
    """Refuse a folder that is not a readable artrepo repository of a known format, without pygit2.

    Anything unusual is left to pygit2 (`open_git`), which says exactly what is wrong.
    """
    path = Path(path)
    if (path / "HEAD").is_file() and (path / "objects").is_dir() and read_format(path) in READABLE:
        return
    open_git(path)


def open_git(path: Path):
    """The pygit2 repository, with its format version checked."""
    import pygit2

    pygit2.settings.enable_fsync_gitdir(True)
    try:
        repo = pygit2.Repository(str(path))
    except pygit2.GitError as exc:
        raise FormatError(f"{path}: not a readable git repository ({exc})") from None
    try:
        version = int(repo.config["artrepo.formatVersion"])
    except (KeyError, ValueError):
        raise FormatError(f"{path}: no artrepo format version in its config") from None
    if version not in READABLE:
        raise FormatError(
            f"{path}: repository format version {version} is not supported by this artrepo "
            f"(it reads versions {', '.join(map(str, READABLE))}); upgrade artrepo"
        )
    return repo


class Config:
    """The repository's git config: `get`, `set`, `delete` and `items` of dotted keys."""

    def __init__(self, objects):
        self._objects = objects  # its pygit2 repository, opened on first use

    def items(self, prefix: str = "") -> dict[str, str]:
        return {e.name: e.value for e in self._objects.git.config if e.name.startswith(prefix)}

    def sections(self, section: str) -> dict[str, dict[str, str]]:
        """{name: {key: value}} of the entries `section.<name>.<key>` (a remote's, a stack's)."""
        out: dict[str, dict[str, str]] = {}
        for entry, value in self.items(section + ".").items():
            name, _, key = entry[len(section) + 1:].rpartition(".")
            out.setdefault(name, {})[key] = value
        return out

    def get(self, key: str) -> str | None:
        try:
            return str(self._objects.git.config[key])
        except KeyError:
            return None

    def set(self, key: str, value: str) -> None:
        self._objects.git.config[key] = value

    def delete(self, key: str) -> None:
        try:
            del self._objects.git.config[key]
        except KeyError:
            pass


def run_git(git_dir: Path, *args: str, data: bytes | None = None) -> bytes:
    """Stock git on this repository, given `data` on its stdin; IntegrityError with git's message if it fails."""
    import subprocess  # not at the top: it imports threading, signal and locale (~4 ms) on every cached run

    return start_git(git_dir, *args, stdin=None if data is None else subprocess.PIPE)(data)


def start_git(git_dir: Path, *args: str, stdin):
    """Stock git started on this repository, reading `stdin` (a file, or a pipe fed by the bytes given to the
    function it returns); that function waits for it and returns its output (or raises as `run_git`).
    Meanwhile this process runs on: git is another process."""
    import subprocess

    try:
        proc = subprocess.Popen(["git", "--git-dir", str(git_dir), *args], stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise UserError("this needs the 'git' program on PATH") from None

    def finish(data: bytes | None = None) -> bytes:
        out, err = proc.communicate(data)
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip()
            for code, text in _OS_ERRORS.items():  # the disk, not the data: said as what it is (OSError)
                if text in message:
                    raise OSError(code, f"git {args[0]}: {text}", str(git_dir))
            raise IntegrityError(f"git {args[0]} failed: {message[:300]}")
        return out

    return finish


# git's messages (strerror) for failures of this machine's disk, never of the objects it checks
_OS_ERRORS = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded",
              errno.EROFS: "Read-only file system", errno.EACCES: "Permission denied"}
