from __future__ import annotations

from pathlib import Path

import click


@click.command("register")
@click.argument("path", type=click.Path(path_type=Path, readable=False))  # checked when read: one line
@click.option("--name", required=True, help="Artifact name.")
@click.option("--version", help="Custom version (default: next number).")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def register_cmd(path: Path, name: str, version: str | None, tags: tuple[str, ...], as_json: bool) -> None:
    """Register an existing file or folder as a new artifact version."""
    from artrepo.cli import render
    from artrepo.client import register_artifact

    av = register_artifact(path, name=name, version=version, tags=list(tags))
    if as_json:
        render.emit_json(render.version_summary(av))
    else:
        click.echo(render.safe(f"registered {av.name}:{av.version} ({av.id[:12]}, {render.human_size(av.size)})"))
