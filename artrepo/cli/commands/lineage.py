from __future__ import annotations

import click


@click.command("lineage")
@click.argument("ref")
@click.option("--downstream", is_flag=True, help="What was made from REF (default: what REF was made from).")
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "json"]), default="text", show_default=True)
def lineage_cmd(ref: str, downstream: bool, fmt: str) -> None:
    """The runs, steps and artifact versions upstream (or downstream) of version REF."""
    from artrepo import lineage
    from artrepo.cli import render
    from artrepo.client import active_repository

    repo = active_repository()
    info = repo.resolve(ref)
    graph = lineage.walk(lineage.RecordedRuns(repo), info.id, "downstream" if downstream else "upstream")
    if fmt == "json":
        render.emit_json(graph.to_json())
    elif fmt == "dot":
        click.echo(render.safe(lineage.render_dot(graph), newlines=True))
    else:
        for line in lineage.render_text(graph, downstream_view=downstream):
            click.echo(render.safe(line))
