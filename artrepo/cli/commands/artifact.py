"""ZenML's artifact commands as its users type them, beside artrepo's short ones.

    artrepo artifact list                      (list)
    artrepo artifact version list --artifact iris_dataset
    artrepo artifact version describe iris_dataset -v raw_2023
    artrepo artifact version update iris_dataset -v raw_2023 -t approved -r draft
    artrepo artifact version delete iris_dataset -v raw_2023 -y
    artrepo artifact update iris_dataset -t golden

Output has ZenML's shape: a table with its columns and a `Page (i/n), N items
found for the applied filters.` line, or `-o json|yaml|csv|tsv` with `items`
and `pagination`. Filters take a value or `OPERATOR:value` (equals, contains,
startswith, endswith), as ZenML's do.
"""
from __future__ import annotations

import click

OUTPUTS = click.Choice(["table", "json", "yaml", "tsv", "csv"])
ARTIFACT_COLUMNS = ("name", "latest_version_name", "latest_version_id", "versions", "type", "tags", "created")
VERSION_COLUMNS = ("id", "artifact", "version", "type", "tags", "created", "content_hash", "materializer",
                   "data_type", "size", "run_metadata")


def _listing_options(columns: tuple[str, ...], default_sort: str):
    def wrap(f):
        for decorator in reversed([
            click.option("--sort_by", "sort_by", default=default_sort, show_default=True,
                         help="FIELD or asc:FIELD / desc:FIELD."),
            click.option("--page", type=click.IntRange(min=1), default=1, show_default=True),
            click.option("--size", type=click.IntRange(min=1), default=20, show_default=True,
                         help="Items per page."),
            click.option("--tags", "--tag", "tag", help="Only items with this tag (OPERATOR:value accepted)."),
            click.option("-c", "--columns", help=f"Comma-separated columns, or 'all': {', '.join(columns)}."),
            click.option("-o", "--output", type=OUTPUTS, default="table", show_default=True),
        ]):
            f = decorator(f)
        return f
    return wrap


@click.group("artifact")
def artifact_cmd() -> None:
    """Artifacts and their versions, with ZenML's command names."""


@artifact_cmd.command("list")
@click.option("--name", help="Only artifacts whose name matches (OPERATOR:value accepted).")
@_listing_options(ARTIFACT_COLUMNS, "name")
def list_artifacts_cmd(name, tag, sort_by, page, size, columns, output) -> None:
    """List all artifacts."""
    from artrepo.client import Client

    found = Client().list_artifacts(name=name, tag=tag, sort_by=sort_by, page=page, size=size)
    rows = []
    for art in found:
        latest = art.latest
        rows.append({"name": art.name, "latest_version_name": latest.version, "latest_version_id": latest.id,
                     "versions": len(art.versions), "type": latest.type.value, "tags": [t.name for t in art.tags],
                     "created": _created(latest)})
    _emit(rows, found, ARTIFACT_COLUMNS, ("name", "latest_version_name", "tags"), columns, output)


@artifact_cmd.command("update")
@click.argument("artifact_name_or_id")
@click.option("-n", "--name", "new_name", help="New name of the artifact (not supported: names are recorded).")
@click.option("-t", "--tag", "add", multiple=True, help="Tags to add to the artifact.")
@click.option("-r", "--remove-tag", "remove", multiple=True, help="Tags to remove from the artifact.")
def update_artifact_cmd(artifact_name_or_id: str, new_name, add, remove) -> None:
    """Update an artifact's own tags."""
    from artrepo.client import Client

    artifact = Client().update_artifact(artifact_name_or_id, new_name=new_name, add_tags=list(add),
                                        remove_tags=list(remove))
    click.echo(f"Artifact '{artifact.name}' updated.")


@artifact_cmd.group("version")
def version_cmd() -> None:
    """Commands for interacting with artifact versions."""


@version_cmd.command("list")
@click.option("--artifact", help="Only versions of this artifact (OPERATOR:value accepted).")
@click.option("--name", help="Same as --artifact.")
@click.option("--version", help="Only this version (OPERATOR:value accepted).")
@click.option("--type", "artifact_type", help="Only this type (DataArtifact, MODEL, ...).")
@_listing_options(VERSION_COLUMNS, "desc:created")
def list_versions_cmd(artifact, name, version, artifact_type, tag, sort_by, page, size, columns, output) -> None:
    """List all artifact versions (newest first)."""
    from artrepo.client import Client

    client = Client()
    found = client.list_artifact_versions(artifact=artifact, name=name, version=version, type=artifact_type,
                                          tag=tag, sort_by=sort_by, page=page, size=size)
    rows = []
    with client.active_repository.snapshot():
        for av in found:
            rows.append({"id": av.id, "artifact": av.name, "version": av.version, "type": av.type.value,
                         "tags": [t.name for t in av.tags], "created": _created(av), "content_hash": av.content_hash,
                         "materializer": av.materializer, "data_type": av.data_type, "size": av.size,
                         "run_metadata": av.run_metadata})
    _emit(rows, found, VERSION_COLUMNS, ("id", "artifact", "version", "type"), columns, output)


@version_cmd.command("describe")
@click.argument("name_id_or_prefix")
@click.option("-v", "--version", help="The version, if NAME_ID_OR_PREFIX is a name (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the shape of `artrepo show --json`).")
def describe_version_cmd(name_id_or_prefix: str, version: str | None, as_json: bool) -> None:
    """Show details about an artifact version."""
    from artrepo.cli import render
    from artrepo.client import Client

    av = Client().get_artifact_version(name_id_or_prefix, version)
    doc = render.version_detail(av)
    if as_json:
        render.emit_json(doc)
        return
    producer = doc["producer"]
    rows = [("ID", av.id), ("CREATED", _created(av)), ("ARTIFACT", av.name), ("VERSION", av.version),
            ("TYPE", av.type.value), ("MATERIALIZER", doc["materializer"]), ("DATA_TYPE", doc["data_type"]),
            ("CONTENT_HASH", av.content_hash), ("SIZE", f"{av.size}"), ("TAGS", str([t.name for t in av.tags])),
            ("PRODUCER", f"run {producer['run_id']}, step {producer['step']}" if producer else doc["origin"]),
            ("VISUALIZATIONS", str([v["name"] for v in doc["visualizations"]])),
            ("RUN_METADATA", str(doc["run_metadata"]))]
    click.echo(render.safe(f"Artifact version '{av.name}' (version: {av.version})"))
    _table(["PROPERTY", "VALUE"], [list(r) for r in rows])


@version_cmd.command("update")
@click.argument("name_id_or_prefix")
@click.option("-v", "--version", help="The version, if NAME_ID_OR_PREFIX is a name (default: the latest).")
@click.option("-t", "--tag", "add", multiple=True, help="Tags to add to the artifact version.")
@click.option("-r", "--remove-tag", "remove", multiple=True, help="Tags to remove from the artifact version.")
def update_version_cmd(name_id_or_prefix: str, version: str | None, add, remove) -> None:
    """Update an artifact version's tags."""
    from artrepo.client import Client

    av = Client().update_artifact_version(name_id_or_prefix, version, add_tags=list(add), remove_tags=list(remove))
    click.echo(f"Artifact version '{av.id}' updated.")


@version_cmd.command("delete")
@click.argument("name_id_or_prefix")
@click.option("-v", "--version", help="The version, if NAME_ID_OR_PREFIX is a name (default: the latest).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--delete-data", "-d", is_flag=True,
              help="Accepted as in ZenML: the data always goes at the next gc past the grace period.")
def delete_version_cmd(name_id_or_prefix: str, version: str | None, yes: bool, delete_data: bool) -> None:
    """Delete an artifact version (its data goes at the next gc past the grace period)."""
    from artrepo.client import Client

    client = Client()
    av = client.get_artifact_version(name_id_or_prefix, version)
    if not yes and not click.confirm(f"Delete artifact version '{av.name}' (version: {av.version})?"):
        from artrepo.errors import UserError

        raise UserError("nothing deleted (answer y, or pass -y)")
    client.delete_artifact_version(av.id)
    click.echo(f"Artifact version '{av.id}' deleted.")


# -- pages and output --------------------------------------------------------------------
def _created(av) -> str:
    """UTC to the microsecond, as ZenML prints it (and so that sorting by it is exact)."""
    import datetime as dt

    when = dt.datetime.fromtimestamp(av.record.created_ns // 1000 / 1e6, tz=dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def _emit(rows: list[dict], page, known: tuple[str, ...], default_columns, columns: str | None,
          output: str) -> None:
    """One page of rows (`page` a listing.Page) as ZenML prints it: a table and its page line, or a document."""
    from artrepo.errors import UserError

    chosen = list(known) if columns == "all" else \
        [c.strip() for c in columns.split(",")] if columns else list(default_columns)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise UserError(f"unknown column {unknown[0]!r}; one of {', '.join(known)}")
    items = [{c: r[c] for c in chosen} for r in rows]
    pagination = {"index": page.index, "max_size": page.max_size, "total_pages": page.total_pages,
                  "total": page.total}
    if output == "json":
        from artrepo.cli import render

        render.emit_json({"items": items, "pagination": pagination})
    elif output == "yaml":
        import yaml

        click.echo(yaml.safe_dump({"items": items, "pagination": pagination}, sort_keys=False), nl=False)
    elif output in ("csv", "tsv"):
        import csv
        import sys

        writer = csv.writer(sys.stdout, delimiter="," if output == "csv" else "\t", lineterminator="\n")
        writer.writerow(chosen)
        writer.writerows([[str(i[c]) for c in chosen] for i in items])
    else:
        if items:
            _table([c.upper().replace("_", " ") for c in chosen], [[str(i[c]) for c in chosen] for i in items])
        click.echo(f"Page ({page.index}/{page.total_pages}), {page.total} items found for the applied filters.")


def _table(header: list[str], rows: list[list[str]]) -> None:
    from artrepo.cli.render import safe

    rows = [[safe(x) for x in row] for row in rows]  # cells hold repository text
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    click.echo("  ".join("─" * w for w in widths))
    for row in rows:
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
