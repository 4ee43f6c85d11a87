from __future__ import annotations

import click


@click.command("tag")
@click.argument("ref")
@click.argument("tags", nargs=-1, required=True)
def tag_cmd(ref: str, tags: tuple[str, ...]) -> None:
    """Add TAGS to the version REF (kept as a new record; the version is unchanged)."""
    from artrepo.cli.render import safe
    from artrepo.client import Client

    av = Client().update_artifact_version(ref, add_tags=list(tags))
    click.echo(f"{safe(av.name)}:{safe(av.version)} tags: {', '.join(safe(t) for t in av.tags)}")
