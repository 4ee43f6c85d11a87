"""Provenance read back: how a run, or a version saved outside a step, came about (docs/format.md §11c).

    run = Client().get_pipeline_run("3f2a9c"); run.provenance.git_commit, run.provenance.packages["numpy"]
    print(run.provenance.diff)   # the uncommitted changes when the run started

Capturing it is `artrepo.runtime.provenance`.
"""
from __future__ import annotations


class Provenance:
    """A provenance record with its dirty diff: `.git_state`, `.environment`, `.packages`, `.user`, `.host`, `.diff`."""

    def __init__(self, record, diff: bytes):
        self.record = record
        self.diff = diff.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"Provenance(git={self.git_commit}, dirty={self.dirty}, python={self.environment.get('python')})"

    @classmethod
    def read(cls, repo, commit: str) -> Provenance | None:
        found = repo.read_provenance(commit)
        return None if found is None else cls(*found)

    executed = property(lambda self: self.record.executed)
    source = property(lambda self: self.record.source)
    git_state = property(lambda self: dict(self.record.git_state))  # the `git` map of docs/format.md §11c
    git_commit = property(lambda self: self.record.git_state.get("commit"))
    git_branch = property(lambda self: self.record.git_state.get("branch"))
    dirty = property(lambda self: self.record.git_state.get("dirty"))
    environment = property(lambda self: dict(self.record.environment))
    packages = property(lambda self: dict(self.record.environment.get("packages") or {}))
    user = property(lambda self: self.record.user)
    host = property(lambda self: self.record.host)
