from __future__ import annotations

import click


@click.group("remote")
def remote_cmd() -> None:
    """Manage the remotes (buckets or folders) this repository pushes to and pulls from."""


@remote_cmd.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--endpoint-url", help="S3-compatible endpoint (default: AWS_ENDPOINT_URL or AWS itself).")
@click.option("--trusted", is_flag=True, help="Allow pickled artifacts pulled from this remote to load.")
def add_cmd(name: str, url: str, endpoint_url: str | None, trusted: bool) -> None:
    """Add remote NAME at URL (s3://bucket/prefix, a folder, or any fsspec URL)."""
    from artrepo.client import active_repository
    from artrepo.remotes.config import add_remote

    remote = add_remote(active_repository(), name, url, endpoint_url, trusted)
    click.echo(f"added remote {remote.name} -> {remote.url}{' (trusted)' if trusted else ''}")


@remote_cmd.command("list")
def list_cmd() -> None:
    """List remotes: name, URL, endpoint and trust."""
    from artrepo.client import active_repository
    from artrepo.remotes.config import remotes

    for remote in remotes(active_repository()).values():
        extra = [f"endpoint={remote.endpoint_url}"] if remote.endpoint_url else []
        extra += ["trusted"] if remote.trusted else []
        click.echo("\t".join([remote.name, remote.url, *extra]))


@remote_cmd.command("remove")
@click.argument("name")
def remove_cmd(name: str) -> None:
    """Forget remote NAME (versions pulled from it stay, and stay untrusted)."""
    from artrepo.client import active_repository
    from artrepo.remotes.config import remove_remote

    remove_remote(active_repository(), name)
    click.echo(f"removed remote {name}")
