from __future__ import annotations

import click


@click.command("log")
@click.argument("name", required=False)
@click.option("-n", "--max-count", "limit", type=click.IntRange(min=0), help="Show at most N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def log_cmd(name: str | None, limit: int | None, as_json: bool) -> None:
    """Versions of artifact NAME (newest first), NAME@ALIAS history, or the run history."""
    from artrepo.models import ArtifactVersion
    from artrepo.cli import render
    from artrepo.repository import active

    repo = active()  # metadata only: no on-demand chunk fetching (client.active_repository)
    if name is None:
        from artrepo.cli.commands.run import print_run_log

        print_run_log(repo, limit, as_json)
        return
    if "@" in name:
        _alias_log(repo, name, limit, as_json)
        return
    infos = repo.versions(name)
    if not infos:
        repo.latest(name)  # raises NotFoundError with a suggestion
    versions = [ArtifactVersion(repo, i) for i in infos[:limit]]
    with repo.snapshot():
        if as_json:
            render.emit_json([render.version_summary(av) for av in versions])
            return
        click.echo("\n".join(render.version_line(av) for av in versions))


def _alias_log(repo, text: str, limit: int | None, as_json: bool) -> None:
    from artrepo import names
    from artrepo.cli import render
    from artrepo.errors import NotFoundError

    ref = names.parse_reference(text)
    history = repo.alias_history(ref.name, ref.alias)
    if not history:
        raise NotFoundError(f"no alias {ref.alias!r} on artifact {ref.name!r}")
    labels = {oid: label for label, oid in repo.version_refs(ref.name).items()}
    rows = [{"id": oid, "version": labels.get(oid), "moved": render.iso(t * 10**9), "message": msg}
            for oid, t, msg in history[:limit]]
    if as_json:
        render.emit_json(rows)
        return
    for r in rows:
        click.echo(render.safe(f"{r['id'][:12]}  {ref.name}:{r['version']}  {r['moved']}  {r['message']}"))
