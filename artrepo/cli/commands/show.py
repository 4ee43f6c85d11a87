from __future__ import annotations

import click


@click.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--step", "step", metavar="NAME", help="Of a run: only this step.")
@click.option("--code", is_flag=True, help="Print the exact code of the step (of a version: of the step that made it).")
@click.option("--git-diff", is_flag=True, help="Print the uncommitted changes recorded with the run or version.")
def show_cmd(ref: str, as_json: bool, step: str | None, code: bool, git_diff: bool) -> None:
    """Show one artifact version (or one pipeline run). Never loads the data."""
    from artrepo.models import ArtifactVersion
    from artrepo.cli import render
    from artrepo.client import active_repository
    from artrepo.errors import NotFoundError

    repo = active_repository()
    try:
        av = ArtifactVersion(repo, repo.resolve(ref))
    except NotFoundError:
        from artrepo.cli.commands.run import show_run

        if show_run(repo, ref, as_json, step=step, code=code, git_diff=git_diff):
            return
        raise
    if step is not None:
        raise click.UsageError("--step applies to a pipeline run; REF names an artifact version")
    if code or git_diff:
        from artrepo.cli.commands.run import print_code, print_git_diff

        if code:
            producer = av.producer
            if producer is None:
                raise NotFoundError(f"{av.name}:{av.version} was not made by a recorded pipeline step: no step code")
            print_code(producer)
        else:
            print_git_diff(av.provenance, f"{av.name}:{av.version}")
        return
    doc = render.version_detail(av)
    doc["annotations"] = render.annotation_rows(repo, av.id)
    if as_json:
        render.emit_json(doc)
        return
    safe = render.safe
    click.echo(click.style(safe(f"version {av.id}"), fg="yellow"))
    click.echo(f"Artifact:     {safe(av.name)}:{safe(av.version)}")
    click.echo(f"Created:      {render.when(av.record.created_ns)}")
    click.echo(f"Type:         {safe(doc['type'])}  ({safe(doc['data_type'])}, materializer {safe(doc['materializer'])})")
    click.echo(f"Size:         {render.human_size(av.size)}")
    click.echo(f"Content hash: {safe(av.content_hash)}")
    if av.tags:
        click.echo(f"Tags:         {', '.join(safe(t) for t in av.tags)}")
    aliases = [a for a, oid in repo.aliases(av.name).items() if oid == av.id]
    if aliases:
        click.echo(f"Aliases:      {', '.join(safe(a) for a in sorted(aliases))}")
    if doc["producer"]:
        click.echo(f"Producer:     run {safe(str(doc['producer']['run_id'])[:12])}, step {safe(doc['producer']['step'])}")
    else:
        click.echo(f"Origin:       {safe(doc['origin'])}")
    if doc["run_metadata"]:
        click.echo("Metadata:")
        for k, v in doc["run_metadata"].items():
            click.echo(f"  {safe(k)}: {safe(v)}")
    pulled = [a["origin"] for a in doc["annotations"] if a["origin"]]
    if pulled:
        here = len(doc["annotations"]) - len(pulled)
        sources = ", ".join(f"{pulled.count(o)} from remote {safe(o)}" for o in sorted(set(pulled)))
        click.echo(f"Annotations:  {here} made here, {sources} (applied as of when they arrived)")
    for vis in doc["visualizations"]:
        click.echo(f"Visualization: {safe(vis['name'])} ({safe(vis['type'])})")
    if av.provenance is not None:
        for line in render.provenance_lines(av.provenance):
            click.echo(line)
