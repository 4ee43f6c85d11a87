"""Git objects shipped as git packs, built and checked by stock git.

`git pack-objects --revs` packs everything the pushed tips reach minus what
the remote's tips already reach (git's own negotiation, done against the
ref table instead of a server). `git index-pack --strict` receives a pack:
it recomputes every object's hash, checks that the objects are well formed
and that every link resolves (strict mode turns fsck warnings such as `..`
tree entries into errors), and moves the pack into place only then.
"""
from __future__ import annotations

import subprocess

from artrepo.errors import IntegrityError, UserError
from artrepo.storage import hashing

EMPTY_PACK_OBJECTS = 0


def git_pack_key(name: str) -> str:
    return f"git/{name}.pack"


def _git(repo, *args: str, data: bytes) -> bytes:
    try:
        proc = subprocess.run(["git", "--git-dir", str(repo.git_dir), *args], input=data, capture_output=True)
    except FileNotFoundError:
        raise UserError("remotes need the 'git' program on PATH") from None
    if proc.returncode != 0:
        raise IntegrityError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
    return proc.stdout


def build_git_pack(repo, tips, exclude) -> bytes | None:
    """A pack of the objects `tips` reach and `exclude` (commits we have) do not; None if empty."""
    lines = [t for t in sorted(set(tips))] + [f"^{x}" for x in sorted(set(exclude) - set(tips)) if x in repo.git]
    if not tips:
        return None
    data = _git(repo, "pack-objects", "--revs", "--stdout", "-q", data=("\n".join(lines) + "\n").encode())
    if int.from_bytes(data[8:12], "big") == EMPTY_PACK_OBJECTS:
        return None
    return data


def pack_name(data: bytes) -> str:
    return hashing.digest(data).hex()


def import_git_pack(repo, name: str, data: bytes) -> None:
    """Verify a pack from the remote and add its objects to the local repository."""
    if pack_name(data) != name:
        raise IntegrityError(f"git pack {name[:12]} from the remote does not match its name")
    _git(repo, "index-pack", "--stdin", "--strict", data=data)
