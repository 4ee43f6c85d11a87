from __future__ import annotations

import click


@click.command("alias")
@click.argument("ref")
@click.argument("alias")
def alias_cmd(ref: str, alias: str) -> None:
    """Point ALIAS (e.g. production) of REF's artifact at REF; see history with `log NAME@ALIAS`."""
    from artrepo import names
    from artrepo.cli.render import safe
    from artrepo.client import active_repository

    names.validate_version(alias, "alias")
    repo = active_repository()
    info = repo.resolve(ref)
    repo.set_alias(info, alias)
    click.echo(safe(f"{info.name}@{alias} -> {info.name}:{info.version} ({info.id[:12]})"))
