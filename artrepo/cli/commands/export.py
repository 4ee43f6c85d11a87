from __future__ import annotations

from pathlib import Path

import click


@click.command("export")
@click.argument("ref")
@click.argument("dest", type=click.Path(path_type=Path))
def export_cmd(ref: str, dest: Path) -> None:
    """Write the files of version REF to DEST (a new folder, or a .zip file)."""
    from artrepo.cli.render import safe
    from artrepo.client import Client

    av = Client().get_artifact_version(ref)
    out = av.export(dest)
    click.echo(safe(f"exported {av.name}:{av.version} to {out}"))
