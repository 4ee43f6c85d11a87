"""Stacks: where a run keeps its artifacts (an artifact store) and who runs its steps (an orchestrator).

    artrepo stack register gpu --orchestrator dask --scheduler tcp://10.0.0.5:8786 --artifact-store origin
    artrepo stack set gpu
    Client().active_stack.orchestrator          # DaskOrchestrator(scheduler='tcp://10.0.0.5:8786')

Settings live in the repository's git config, never a secret (docs/format.md
§11c); the `default` stack (the local repository, steps in this process)
needs none and cannot be changed. An orchestrator given in code
(`@pipeline(orchestrator="dask")`) replaces the stack's for that pipeline.
"""
from __future__ import annotations

import re

from artrepo import names
from artrepo.errors import NotFoundError, UserError

SECTION = "artrepo-stack"
ACTIVE = "artrepo.stack"
DEFAULT = "default"
FLAVORS = ("local", "dask")
_ADDRESS = re.compile(r"[a-z][a-z0-9+]*://\S+\Z")


class LocalOrchestrator:
    """Steps run in the process that runs the pipeline (on threads with `parallel=`)."""

    name = flavor = "local"

    def __repr__(self) -> str:
        return "LocalOrchestrator()"

    def __eq__(self, other) -> bool:
        return type(other) is type(self)

    __hash__ = object.__hash__

    def describe(self) -> str:
        return "local (steps run in the artrepo process)"


class DaskOrchestrator:
    """Each step that must run is one task on a Dask cluster.

        DaskOrchestrator(scheduler="tcp://10.0.0.5:8786")   # an existing cluster
        DaskOrchestrator(workers=4)                         # a LocalCluster started and stopped by the run
        DaskOrchestrator(client=client)                     # a distributed.Client you opened (left open)
    """

    name = flavor = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None, client=None):
        if scheduler is not None and not _ADDRESS.match(scheduler):
            raise UserError(f"invalid Dask scheduler address {scheduler!r}: use tcp://HOST:PORT")
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
            raise UserError(f"workers must be a positive number, got {workers!r}")
        if sum(x is not None for x in (scheduler, workers, client)) > 1:
            raise UserError("give a Dask scheduler address, a number of local workers or a client, not several")
        self.scheduler, self.workers, self.client = scheduler, workers, client

    def __repr__(self) -> str:
        what = (f"scheduler={self.scheduler!r}" if self.scheduler else f"workers={self.workers!r}" if self.workers
                else "client=..." if self.client is not None else "")
        return f"DaskOrchestrator({what})"

    def __eq__(self, other) -> bool:
        return (type(other) is type(self) and (self.scheduler, self.workers) == (other.scheduler, other.workers)
                and self.client is other.client)

    __hash__ = object.__hash__

    def describe(self) -> str:
        if self.scheduler:
            return f"dask (scheduler {self.scheduler})"
        if self.client is not None:
            return "dask (a client given in code)"
        return f"dask (a LocalCluster of {self.workers or 'one worker per core,'} process{'es' if self.workers != 1 else ''} per run)"


class RemoteArtifactStore:
    """A remote (bucket or folder) as a stack's artifact store: workers read and write it directly.

    `.path` is its URL; runs on the stack publish their records and refs there too.
    """

    flavor = "remote"

    def __init__(self, remote):
        self.remote = remote
        self.name = remote.name

    @property
    def path(self) -> str:
        return self.remote.url

    def __repr__(self) -> str:
        return f"RemoteArtifactStore(remote={self.remote.name!r}, path={self.remote.url!r})"

    def describe(self) -> str:
        extra = f" (endpoint {self.remote.endpoint_url})" if self.remote.endpoint_url else ""
        return f"remote {self.remote.name}: {self.remote.url}{extra}"


class Stack:
    """`.name`, `.artifact_store` (`.path`), `.orchestrator`; `.active` when it is the repository's active one."""

    def __init__(self, name: str, artifact_store, orchestrator, active: bool = False):
        self.name, self.artifact_store, self.orchestrator, self.active = name, artifact_store, orchestrator, active

    def __repr__(self) -> str:
        return f"Stack({self.name!r}, artifact_store={self.artifact_store!r}, orchestrator={self.orchestrator!r})"

    @property
    def remote(self):
        """The remote that is the artifact store, or None for the local repository."""
        return getattr(self.artifact_store, "remote", None)

    def with_orchestrator(self, orchestrator) -> "Stack":
        return Stack(self.name, self.artifact_store, orchestrator_of(orchestrator), self.active)


def orchestrator_of(value):
    """An orchestrator from itself, its flavor name (`"local"`, `"dask"`) or a `distributed.Client`."""
    if isinstance(value, (LocalOrchestrator, DaskOrchestrator)):
        return value
    if value == "local":
        return LocalOrchestrator()
    if value == "dask":
        return DaskOrchestrator()
    if type(value).__name__ == "Client" and type(value).__module__.startswith("distributed"):
        return DaskOrchestrator(client=value)
    raise UserError(f"unknown orchestrator {value!r}: use 'local', 'dask', a DaskOrchestrator or a "
                    "distributed.Client")


def default_stack(root, active: bool = False) -> Stack:
    """The local repository at `root` (its artifact store's `.path` is the folder holding `.artrepo/`).

    Files written there stay the user's files until `register_artifact` stores
    them (artrepo keeps its own data by content under `.artrepo/`).
    """
    from artrepo.io.artifact_store import LocalArtifactStore

    return Stack(DEFAULT, LocalArtifactStore(root), LocalOrchestrator(), active)


def _build(repo, name: str, fields: dict[str, str], active: bool) -> Stack:
    from artrepo.io.artifact_store import LocalArtifactStore

    flavor = fields.get("orchestrator", "local")
    if flavor == "dask":
        workers = fields.get("workers")
        orchestrator = DaskOrchestrator(fields.get("scheduler") or None, int(workers) if workers else None)
    elif flavor == "local":
        orchestrator = LocalOrchestrator()
    else:
        raise UserError(f"stack {name!r}: unknown orchestrator {flavor!r} in the repository config")
    remote_name = fields.get("artifact-store")
    if remote_name:
        from artrepo.remotes.config import get_remote

        try:
            store = RemoteArtifactStore(get_remote(repo, remote_name))
        except NotFoundError:
            raise NotFoundError(f"stack {name!r}: its artifact store, remote {remote_name!r}, no longer exists; "
                                f"add it again or register another stack") from None
    else:
        store = LocalArtifactStore(repo.root)
    return Stack(name, store, orchestrator, active)


def active_name(repo) -> str:
    return repo.config.get(ACTIVE) or DEFAULT


def stacks(repo) -> dict[str, Stack]:
    """Every stack by name, `default` first."""
    active = active_name(repo)
    out = {DEFAULT: default_stack(repo.root, active == DEFAULT)}
    for name, fields in sorted(repo.config.sections(SECTION).items()):
        if "orchestrator" in fields:
            out[name] = _build(repo, name, fields, name == active)
    return out


def get_stack(repo, name: str | None = None) -> Stack:
    """The named stack, or the active one (`artrepo stack set`; `default` until one is set)."""
    wanted = name or active_name(repo)
    if wanted == DEFAULT:
        return default_stack(repo.root, active_name(repo) == DEFAULT)
    fields = repo.config.sections(SECTION).get(wanted)
    if not fields or "orchestrator" not in fields:
        known = ", ".join(stacks(repo))
        raise NotFoundError(f"no stack named {wanted!r} (stacks: {known}); register it with 'artrepo stack register'")
    return _build(repo, wanted, fields, wanted == active_name(repo))


def register_stack(repo, name: str, orchestrator: str = "local", scheduler: str | None = None,
                   workers: int | None = None, artifact_store: str | None = None) -> Stack:
    """Record a stack in the repository's config (everything is checked before anything is written)."""
    names.validate_setting_name(name, "stack")
    if name == DEFAULT:
        raise UserError("the default stack is built in (the local repository, steps run locally); "
                        "register a stack under another name")
    if orchestrator not in FLAVORS:
        raise UserError(f"unknown orchestrator {orchestrator!r}: use {' or '.join(FLAVORS)}")
    if orchestrator != "dask" and (scheduler or workers):
        raise UserError("--scheduler and --workers need --orchestrator dask")
    DaskOrchestrator(scheduler, workers) if orchestrator == "dask" else None  # validates the address
    if artifact_store is not None:
        from artrepo.remotes.config import get_remote

        get_remote(repo, artifact_store)
    if name in repo.config.sections(SECTION):
        raise UserError(f"stack {name!r} already exists; delete it first ('artrepo stack delete {name}')")
    for key, value in (("scheduler", scheduler), ("workers", str(workers) if workers else None),
                       ("artifact-store", artifact_store)):
        if value:
            repo.config.set(f"{SECTION}.{name}.{key}", value)
    repo.config.set(f"{SECTION}.{name}.orchestrator", orchestrator)  # last: a stack exists once it has one
    return get_stack(repo, name)


def set_active(repo, name: str) -> Stack:
    stack = get_stack(repo, name)
    if name == DEFAULT:
        repo.config.delete(ACTIVE)
    else:
        repo.config.set(ACTIVE, name)
    stack.active = True
    return stack


def delete_stack(repo, name: str) -> None:
    if name == DEFAULT:
        raise UserError("the default stack is built in and cannot be deleted")
    get_stack(repo, name)
    if active_name(repo) == name:
        raise UserError(f"stack {name!r} is the active stack; 'artrepo stack set default' first")
    for key in ("orchestrator", "scheduler", "workers", "artifact-store"):
        repo.config.delete(f"{SECTION}.{name}.{key}")


def _configured(repo) -> bool:
    """Whether the config may name an active stack; read as text, so a default run never opens pygit2."""
    try:
        return "stack" in (repo.git_dir / "config").read_text(errors="replace")
    except OSError:
        return True


def run_stack(repo, name: str | None = None, orchestrator=None) -> Stack | None:
    """The stack a run uses (`--stack`, else the active one; `orchestrator` from code replaces its own).

    None when that is the local repository with the local orchestrator: the run needs no set-up.
    """
    stack = get_stack(repo, name) if name is not None or _configured(repo) else None
    if orchestrator is not None and name is None:  # `--stack` on the command line wins over code
        stack = (stack or default_stack(repo.root)).with_orchestrator(orchestrator)
    if stack is None or (stack.remote is None and isinstance(stack.orchestrator, LocalOrchestrator)):
        return None
    return stack
