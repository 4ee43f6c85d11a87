from __future__ import annotations

import os
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
    from artrepo.errors import UserError
    from artrepo.payload import short_path

    try:
        os.lstat(path)
    except FileNotFoundError:
        pass  # register_artifact names it
    except OSError as exc:  # a path longer than PATH_MAX, a folder on the way that cannot be searched
        raise UserError(f"cannot register {short_path(path)}: {exc.strerror or exc}") from None
    av = register_artifact(path, name=name, version=version, tags=list(tags))
    if as_json:
        render.emit_json(render.version_summary(av))
    else:
        click.echo(render.safe(f"registered {av.name}:{av.version} ({av.id[:12]}, {render.human_size(av.size)})"))
