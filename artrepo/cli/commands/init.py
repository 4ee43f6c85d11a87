from __future__ import annotations

from pathlib import Path

import click


@click.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def init_cmd(directory: Path | None) -> None:
    """Create a repository (.artrepo/) in DIRECTORY (default: here)."""
    from artrepo.repository import DIR_NAME, Repository

    root = (directory or Path.cwd()).resolve()
    existed = (root / DIR_NAME / "config").exists()
    Repository.init(root)
    verb = "Reinitialized existing" if existed else "Initialized empty"
    click.echo(f"{verb} artrepo repository in {root / DIR_NAME}")
