from __future__ import annotations

from pathlib import Path

import click


def _report(result, verb: str) -> None:
    from artrepo.cli.render import safe
    from artrepo.remotes.progress import summary

    for line in summary(result, verb):
        click.echo(safe(line))


@click.command("push")
@click.argument("remote", required=False)
@click.argument("refs", nargs=-1)
def push_cmd(remote: str | None, refs: tuple[str, ...]) -> None:
    """Send what REMOTE (default: origin) lacks: everything, or what the REFS reach."""
    from artrepo.client import active_repository
    from artrepo.remotes.config import get_remote
    from artrepo.remotes.progress import Progress
    from artrepo.remotes.push import push
    from artrepo.remotes.select import parse_all

    parse_all(refs)
    repo = active_repository()
    _report(push(repo, get_remote(repo, remote), refs, Progress()), "pushed")


@click.command("pull")
@click.argument("remote", required=False)
@click.argument("refs", nargs=-1)
@click.option("--metadata-only", is_flag=True, help="Fetch records and refs only; data loads on demand.")
def pull_cmd(remote: str | None, refs: tuple[str, ...], metadata_only: bool) -> None:
    """Fetch refs and records from REMOTE, and the data of REFS (default: everything)."""
    from artrepo.client import active_repository
    from artrepo.remotes.config import get_remote
    from artrepo.remotes.progress import Progress
    from artrepo.remotes.pull import PullRefused, pull

    repo = active_repository()
    try:
        result = pull(repo, get_remote(repo, remote), refs, metadata_only, Progress())
    except PullRefused as exc:
        _report(exc.result, "pulled")  # what verified arrived; the refusal is the one error line
        raise
    _report(result, "pulled")


@click.command("clone")
@click.argument("url")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--endpoint-url", help="S3-compatible endpoint (default: AWS_ENDPOINT_URL or AWS itself).")
@click.option("--trusted", is_flag=True, help="Allow pickled artifacts from this remote to load.")
def clone_cmd(url: str, directory: Path | None, endpoint_url: str | None, trusted: bool) -> None:
    """Create a repository in DIRECTORY from the remote at URL (init + remote origin + pull)."""
    from artrepo.cli.render import safe
    from artrepo.remotes.progress import Progress
    from artrepo.remotes.pull import PullRefused, clone

    try:
        target, result = clone(url, directory, endpoint_url, trusted, Progress())
    except PullRefused as exc:
        click.echo(safe(f"cloned {url}, without what did not verify"))
        _report(exc.result, "pulled")
        raise
    click.echo(safe(f"cloned {url} into {target}"))
    _report(result, "pulled")
