"""The repository every command opens: a `Repository` that imports pygit2 only when it must.

`import pygit2` alone takes longer than a fully cached pipeline run or most of
`artrepo log`, so refs, prefix listings and files of loose commits are read
in pure Python (`gitdb.loose`, SHA-1 checked); whatever is not simple (a
packed object, an odd ref, any write but a run's own, `repo.git`) opens
pygit2 on first use and behaves exactly as `Repository` does.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

from artrepo.gitdb import layout, loose
from artrepo.repository import DIR_NAME, Repository


class LightObjects:
    """`Objects` for reads of loose objects; everything else goes to pygit2."""

    def __init__(self, repo: "LightRepository"):
        self._repo = repo
        self._parsed: dict = {}  # commits and trees read so far (loose.tree_file)

    def tree_file(self, commit_oid: str, path: str) -> bytes | None:
        if len(self._parsed) > 10_000:
            self._parsed.clear()
        try:
            return loose.tree_file(self._repo.git_dir, commit_oid, path, self._parsed)
        except loose.NotSimple:
            return self._repo.full_objects.tree_file(commit_oid, path)

    def blob(self, oid: str) -> bytes:
        try:
            kind, body = loose.read_object(self._repo.git_dir, oid)
        except loose.NotSimple:
            return self._repo.full_objects.blob(oid)
        return body if kind == "blob" else self._repo.full_objects.blob(oid)

    def __getattr__(self, name: str):
        return getattr(self._repo.full_objects, name)


class LightRefs:
    """`Refs` for reading; updates, deletes and reflogs go to pygit2."""

    def __init__(self, repo: "LightRepository"):
        self._repo = repo
        self.git_dir = repo.git_dir

    def get(self, name: str) -> str | None:
        try:
            return loose.read_ref(self.git_dir, name)
        except loose.NotSimple:
            return self._repo.full_refs.get(name)

    def list_prefix(self, prefix: str) -> dict[str, str]:
        return loose.list_prefix(self.git_dir, prefix)

    def list_folders(self, prefix: str) -> set[str]:
        return loose.list_folders(self.git_dir, prefix)

    def __getattr__(self, name: str):
        return getattr(self._repo.full_refs, name)


class LightRepository(Repository):
    def __init__(self, root: Path):  # the attributes of Repository.__init__, git ones lazy
        self.root = Path(root).resolve()
        self.git_dir = self.root / DIR_NAME
        self.objects = LightObjects(self)
        self.refs = LightRefs(self)
        self.tmp = layout.tmp_dir(self.git_dir)
        self._chunks = None
        self._records = {}
        self.fetch_missing = None

    @cached_property
    def git(self):
        from artrepo.gitdb.repo import open_git

        return open_git(self.git_dir)

    @cached_property
    def full_objects(self):
        from artrepo.gitdb.objects import Objects

        return Objects(self.git)

    @cached_property
    def full_refs(self):
        from artrepo.gitdb.refs import Refs

        return Refs(self.git, self.git_dir)


def _looks_simple(git_dir: Path) -> bool:
    """A readable format-1 repository (else pygit2 opens it and says what is wrong)."""
    if not (git_dir / "HEAD").is_file() or not (git_dir / "objects").is_dir():
        return False
    section = None
    try:
        text = (git_dir / "config").read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip().lower()
        elif section == "artrepo" and "=" in stripped:
            key, _, value = stripped.partition("=")
            if key.strip().lower() == "formatversion":
                return value.strip() == "1"
    return False


def open_light(top: Path) -> Repository:
    """A light repository when the folder is a plain format-1 one, else a full one."""
    return LightRepository(top) if _looks_simple(top / DIR_NAME) else Repository(top)
