"""Provenance: which code, project state and environment made a run or a saved version.

What is captured (records.run.ProvenanceRecord; docs/format.md, "Provenance"):

- the project's git state: commit, branch, whether tracked files differ from
  it and, if so, the diff of tracked files (cut at `MAX_DIFF` bytes, with the
  full size and the per-file counts noted); "no git" when the source is not
  in a git work tree or git is missing or fails: never an error;
- the environment: Python, platform, artrepo, and the versions of the
  distributions whose modules the process has loaded (what the steps and the
  pipeline's file imported, and what those imported), read from their
  `.dist-info` folders, never `pip freeze`;
- user and host names, unless the `provenanceUser` setting is off;
  nothing from environment variables, nothing secret.

When: a run captures the git state just before its first step executes and
the packages at its end (`RunCapture`); a run served entirely from cache
executed no code, so it records only what costs nothing (no git, no
packages): the runs its steps were cached from recorded theirs. A version
saved outside a step captures everything at the save (`capture_save`).

Settings: `[artrepo] provenance = off` in `.artrepo/config` (or
`ARTREPO_PROVENANCE=off`) records no provenance and no step code;
`provenanceUser = false` (or `ARTREPO_PROVENANCE_USER=0`) leaves user and
host out.
"""
from __future__ import annotations

import functools
import os
import sys

from artrepo.gitdb.repo import artrepo_settings
from artrepo.records.run import ProvenanceRecord

MAX_DIFF = 256 * 1024  # bytes of a dirty diff kept
COUNT_LIMIT = 256 * 1024 * 1024  # bytes of a diff read to count it; beyond, "at least"
MAX_LISTED = 50  # binary files named
GIT_TIMEOUT = 30.0
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_OFF = ("off", "false", "no", "0")


# -- settings ---------------------------------------------------------------------------
def settings(git_dir) -> tuple[bool, bool]:
    """(record provenance at all, record user and host) from the environment, else the repository config."""
    found = {"provenance": "on", "provenanceuser": "true", **artrepo_settings(git_dir)}
    found["provenance"] = os.environ.get("ARTREPO_PROVENANCE", found["provenance"])
    found["provenanceuser"] = os.environ.get("ARTREPO_PROVENANCE_USER", found["provenanceuser"])
    return found["provenance"].lower() not in _OFF, found["provenanceuser"].lower() not in _OFF


# -- who, where, which Python --------------------------------------------------------------
def who(record_user: bool) -> tuple[str | None, str | None]:
    """(user name, host name), from the password database and uname (no environment variable)."""
    if not record_user:
        return None, None
    return _who(os.getuid() if hasattr(os, "getuid") else None)


@functools.cache  # the password database is a file read on every lookup
def _who(uid: int | None) -> tuple[str | None, str | None]:
    user = None
    try:
        import pwd

        user = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError, TypeError):  # TypeError: no uid
        pass
    uname = getattr(os, "uname", None)
    return user, (uname().nodename if uname else None) or None


def environment(packages: bool) -> dict:
    """Python, platform and artrepo versions; with `packages`, the loaded distributions' versions."""
    import artrepo

    info = sys.version_info
    python = "%d.%d.%d" % info[:3] + ("" if info.releaselevel == "final" else f"{info.releaselevel}{info.serial}")
    uname = os.uname() if hasattr(os, "uname") else None
    env = {"python": python, "implementation": sys.implementation.name,
           "platform": f"{uname.sysname}-{uname.release}-{uname.machine}" if uname else sys.platform,
           "artrepo": artrepo.__version__}
    if packages:
        from artrepo.runtime.distributions import loaded_distributions

        env["packages"] = loaded_distributions()
    return env


# -- git ------------------------------------------------------------------------------------------
def work_tree(start: str) -> str | None:
    """The git work tree holding folder `start` (a `.git` folder or file at or above it), or None."""
    here = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C", GIT_TERMINAL_PROMPT="0")  # a status never writes the index
    return env


def _git(top: str, *args: str) -> bytes:
    import subprocess

    proc = subprocess.run(["git", "-C", top, *args], capture_output=True, env=_git_env(), timeout=GIT_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[0][:200])
    return proc.stdout


def git_state(start: str) -> tuple[dict, bytes]:
    """(the `git` map, the dirty diff) of the work tree holding `start`; never raises."""
    top = work_tree(start)
    if top is None:
        return {"state": "no git", "reason": "not in a git work tree"}, b""
    try:
        return _git_state(top)
    except FileNotFoundError:
        return {"state": "no git", "reason": "git is not installed"}, b""
    except Exception as exc:  # a timeout, a repository git refuses (ownership), anything: never fail the run
        return {"state": "no git", "reason": f"git failed: {exc}"}, b""


def _git_state(top: str) -> tuple[dict, bytes]:
    status = _git(top, "status", "--porcelain=v2", "--branch", "--untracked-files=no", "-z").split(b"\0")
    head = {}
    changed = 0
    for entry in status:
        if entry.startswith(b"# branch."):
            key, _, value = entry[len(b"# branch."):].decode(errors="replace").partition(" ")
            head[key] = value
        elif entry[:2] in (b"1 ", b"2 ", b"u "):
            changed += 1
    commit = head.get("oid") if head.get("oid") not in (None, "(initial)") else None
    branch = head.get("head") if head.get("head") not in (None, "(detached)") else None
    state = {"state": "git", "commit": commit, "branch": branch, "dirty": changed > 0}
    if not changed:
        return state, b""
    base = commit or EMPTY_TREE
    state.update(_numstat(_git(top, "diff", "--numstat", "-z", "--no-renames", base)))
    diff, total, counted = _read_diff(top, base)
    cut = total > len(diff)
    state.update(diff_bytes=total, diff_stored=len(diff), diff_cut=cut)
    if not counted:
        state["diff_bytes_at_least"] = True
    if cut:
        more = "at least " if not counted else ""
        diff += (f"\n# artrepo: the diff was cut here: {len(diff):,} of {more}{total:,} bytes stored\n").encode()
    return state, diff


def _numstat(out: bytes) -> dict:
    files, added, removed, binary = 0, 0, 0, []
    for row in out.split(b"\0"):
        parts = row.split(b"\t", 2)
        if len(parts) != 3:
            continue
        files += 1
        if parts[0] == b"-":
            if len(binary) < MAX_LISTED:
                binary.append(parts[2].decode(errors="replace"))
            continue
        added, removed = added + int(parts[0]), removed + int(parts[1])
    return {"files_changed": files, "lines_added": added, "lines_removed": removed, "binary_files": binary}


def _read_diff(top: str, base: str) -> tuple[bytes, int, bool]:
    """(the diff's first MAX_DIFF bytes, cut at a line end; its size; whether all of it was counted)."""
    import subprocess

    proc = subprocess.Popen(["git", "-C", top, "diff", "--no-color", "--no-ext-diff", "--no-textconv", base],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_git_env())
    kept = bytearray()
    total, counted = 0, True
    try:
        while True:
            block = proc.stdout.read(1 << 16)
            if not block:
                break
            total += len(block)
            if len(kept) < MAX_DIFF:
                kept += block[:MAX_DIFF - len(kept)]
            if total >= COUNT_LIMIT:
                counted = False
                proc.kill()
                break
    finally:
        proc.stdout.close()
        proc.wait(GIT_TIMEOUT)
    if total > len(kept):
        end = kept.rfind(b"\n")
        del kept[end + 1:]
    return bytes(kept), total, counted


# -- where the code lives -------------------------------------------------------------------------
def _describe_source(path: str | None, top: str | None, project: str, record_user: bool) -> str | None:
    """A file's path relative to the work tree, else to the project, else its name (no home folders)."""
    if not path:
        return None
    for base in (top, project):
        if base and (path == base or path.startswith(base.rstrip(os.sep) + os.sep)):
            return os.path.relpath(path, base)
    return path if record_user else os.path.basename(path)


def _real_file(path: str | None) -> str | None:
    return os.path.abspath(path) if path and os.path.isfile(path) else None


class RunCapture:
    """The provenance of one run, captured as it goes (see the module docstring).

        capture = RunCapture(repo.git_dir, repo.root, pipeline_file)
        capture.before_first_step()   # git state, once, when a step is about to execute
        record, diff = capture.finish()
    """

    def __init__(self, git_dir, project, source_file: str | None):
        self.enabled, self.record_user = settings(git_dir)
        self.project = str(project)
        self.source_file = _real_file(source_file)
        self.state: dict | None = None  # the `git` map, once captured
        self.diff = b""
        self.workers: dict[str, dict] = {}  # {worker address: its environment}, for steps run elsewhere

    def worker(self, address: str | None, env: dict) -> None:
        """Note the environment of the worker (another process or machine) that ran a step."""
        if address and env:
            self.workers[address] = env

    def before_first_step(self) -> None:
        if self.enabled and self.state is None:
            self.state, self.diff = git_state(os.path.dirname(self.source_file) if self.source_file else os.getcwd())

    def finish(self) -> tuple[ProvenanceRecord | None, bytes | None]:
        """The record and dirty diff to write with the run, or (None, None) when provenance is off."""
        if not self.enabled:
            return None, None
        executed = self.state is not None
        top = work_tree(os.path.dirname(self.source_file)) if executed and self.source_file else None
        user, host = who(self.record_user)
        env = environment(executed) | ({"workers": self.workers} if self.workers else {})
        record = ProvenanceRecord(executed=executed, git_state=self.state or {}, environment=env,
                                  source=_describe_source(self.source_file, top, self.project, self.record_user),
                                  user=user, host=host)
        return record, self.diff or None


def capture_save(git_dir, project, depth: int = 1) -> tuple[ProvenanceRecord | None, bytes | None]:
    """Provenance of a version saved now, outside a step: the caller's file and line, git, environment."""
    enabled, record_user = settings(git_dir)
    if not enabled:
        return None, None
    frame = sys._getframe(depth)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in ("artrepo", "click"):
        frame = frame.f_back
    path = _real_file(frame.f_code.co_filename) if frame is not None else None
    git, diff = git_state(os.path.dirname(path) if path else os.getcwd())
    top = work_tree(os.path.dirname(path)) if path and git.get("state") == "git" else None
    source = _describe_source(path, top, str(project), record_user)
    user, host = who(record_user)
    record = ProvenanceRecord(executed=True, git_state=git, environment=environment(True),
                              source=f"{source}:{frame.f_lineno}" if source else None, user=user, host=host)
    return record, diff or None
