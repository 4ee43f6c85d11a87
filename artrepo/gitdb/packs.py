"""Git objects moved between repositories as git packs, built and checked by stock git.

`git pack-objects --revs` packs everything the pushed tips reach minus what
the other side's tips already reach (git's own negotiation, done against a
ref table instead of a server). `git index-pack --strict` receives a pack:
it recomputes every object's hash, checks that the objects are well formed
and that every link resolves (strict mode turns fsck warnings such as `..`
tree entries into errors), and moves the pack into place only then.
"""
from __future__ import annotations

from artrepo.gitdb import layout
from artrepo.gitdb.repo import run_git, start_git


def build_pack(objects, tips, exclude, present=frozenset()) -> bytes | None:
    """A pack of the objects `tips` reach and `exclude` (commits the other side has) do not; None if empty.

    Commits of `exclude` missing here are left out (git would refuse them); those in `present` (known to be
    here, e.g. what local refs name) are not looked up.
    """
    if not tips:
        return None
    lines = sorted(set(tips)) + [f"^{x}" for x in sorted(set(exclude) - set(tips))
                                 if x in present or objects.contains(x)]
    data = run_git(objects.git_dir, "pack-objects", "--revs", "--stdout", "-q",
                   data=("\n".join(lines) + "\n").encode())
    if int.from_bytes(data[8:12], "big") == 0:  # no objects
        return None
    return data


def import_pack(objects, data: bytes, meanwhile=None):
    """Verify a pack (hashes, well-formedness, links) and add its objects to the repository.

    `meanwhile()`, if given, runs here while git checks the pack (git reads it
    from a file, so nothing here waits on a pipe and the two share the
    machine's cores); what it returns is returned once git has accepted the pack.
    """
    if meanwhile is None:
        run_git(objects.git_dir, "index-pack", "--stdin", "--strict", data=data)
        return None
    import tempfile

    folder = layout.tmp_dir(objects.git_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder, prefix="pack-") as file:
        file.write(data)
        file.flush()
        file.seek(0)
        finish = start_git(objects.git_dir, "index-pack", "--stdin", "--strict", stdin=file)
        try:
            result = meanwhile()
        finally:
            finish()
    return result
