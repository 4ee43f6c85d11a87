"""`artrepo stack register|list|set|show|delete`: artifact store + orchestrator, kept in the repository's config."""
from __future__ import annotations

import click


@click.group("stack")
def stack_cmd() -> None:
    """Manage stacks: where runs keep artifacts and who runs their steps."""


@stack_cmd.command("register")
@click.argument("name")
@click.option("-o", "--orchestrator", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Who runs the steps.")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="The Dask scheduler of an existing cluster.")
@click.option("--workers", type=click.IntRange(min=1), help="Without --scheduler: workers of the LocalCluster "
              "each run starts (processes, one thread each).")
@click.option("-a", "--artifact-store", metavar="REMOTE", help="A remote (artrepo remote add) that workers read "
              "and write; default: this repository.")
@click.option("--set", "make_active", is_flag=True, help="Make it the active stack too.")
def register_cmd(name: str, orchestrator: str, scheduler: str | None, workers: int | None,
                 artifact_store: str | None, make_active: bool) -> None:
    """Register stack NAME (settings only: credentials come from each machine's environment)."""
    from artrepo.client import active_repository
    from artrepo.stacks import register_stack, set_active

    repo = active_repository()
    stack = register_stack(repo, name, orchestrator, scheduler, workers, artifact_store)
    if make_active:
        set_active(repo, name)
    click.echo(f"registered stack {stack.name}{' (active)' if make_active else ''}")


@stack_cmd.command("list")
def list_cmd() -> None:
    """List stacks; the active one is marked with *."""
    from artrepo.cli.render import safe
    from artrepo.client import active_repository
    from artrepo.stacks import stacks

    for stack in stacks(active_repository()).values():
        click.echo(safe(f"{'*' if stack.active else ' '} {stack.name:<16} {stack.orchestrator.describe()}; "
                        f"artifact store: {_store(stack)}"))


@stack_cmd.command("set")
@click.argument("name")
def set_cmd(name: str) -> None:
    """Make NAME the stack runs use (`default`: local repository, steps in the artrepo process)."""
    from artrepo.client import active_repository
    from artrepo.stacks import set_active

    click.echo(f"active stack: {set_active(active_repository(), name).name}")


@stack_cmd.command("show")
@click.argument("name", required=False)
def show_cmd(name: str | None) -> None:
    """Show stack NAME (default: the active one)."""
    from artrepo.cli.render import safe
    from artrepo.client import active_repository
    from artrepo.stacks import get_stack

    stack = get_stack(active_repository(), name)
    click.echo(safe(f"stack {stack.name}{' (active)' if stack.active else ''}"))
    click.echo(safe(f"  orchestrator:   {stack.orchestrator.describe()}"))
    click.echo(safe(f"  artifact store: {_store(stack)}"))


@stack_cmd.command("delete")
@click.argument("name")
def delete_cmd(name: str) -> None:
    """Forget stack NAME (its remote and everything it stored stay)."""
    from artrepo.client import active_repository
    from artrepo.stacks import delete_stack

    delete_stack(active_repository(), name)
    click.echo(f"deleted stack {name}")


def _store(stack) -> str:
    store = stack.artifact_store
    return store.describe() if hasattr(store, "describe") else f"local repository ({store.path})"
