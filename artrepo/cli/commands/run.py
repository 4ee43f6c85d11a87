"""`artrepo run`, and the run history shown by `artrepo log` and `artrepo show RUN`."""
from __future__ import annotations

import click

from artrepo.cli import fastrun


def _parse_parameter(text: str):
    pair = fastrun.parameter(text)
    if pair is None:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="-p")
    return pair


@click.command("run")
@click.argument("target", metavar="FILE_OR_MODULE[:PIPELINE]")
@click.option("-p", "--parameter", "params", multiple=True, metavar="KEY=VALUE",
              help="Pipeline parameter (YAML scalar: -p lr=0.1 is a float). Repeatable.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML with parameters and step settings.")
@click.option("--no-cache", is_flag=True, help="Run every step, ignoring the cache.")
@click.option("--explain", is_flag=True, help="Say for each step why it was or was not served from cache.")
@click.option("--parallel", type=click.IntRange(min=1), help="Run up to N independent steps at once.")
@click.option("--stack", "stack", metavar="NAME", help="Run on this stack (artrepo stack list) instead of the active one.")
def run_cmd(target: str, params: tuple[str, ...], config_path: str | None, no_cache: bool, explain: bool,
            parallel: int | None, stack: str | None) -> None:
    """Run a pipeline defined in FILE (or an importable MODULE)."""
    parameters = dict(_parse_parameter(p) for p in params)
    fastrun.run_target(target, parameters, config_path=config_path, no_cache=no_cache, explain=explain,
                       parallel=parallel, stack=stack)


def print_run_log(repo, limit: int | None, as_json: bool) -> None:
    """`artrepo log` without a name: runs, newest first."""
    from artrepo.cli import render
    from artrepo.queries import list_runs

    runs = list_runs(repo, limit=limit)
    if as_json:
        render.emit_json([{"id": r.id, "pipeline": r.pipeline, "status": r.status,
                           "created": render.iso(r.record.start_ns), "commit": r.commit} for r in runs])
        return
    colors = {"completed": "green", "failed": "red"}
    for r in runs:
        click.echo(f"{click.style(render.safe('run ' + r.id[:12]), fg='yellow')}  {render.when(r.record.start_ns)}  "
                   f"{render.safe(r.pipeline)}  {click.style(render.safe(r.status), fg=colors.get(r.status))}  "
                   f"({len(r.record.steps)} steps, {r.duration:.2f}s)")


def _run_json(run, steps) -> dict:
    from artrepo.cli import render

    return {
        "id": run.id, "pipeline": run.pipeline, "status": run.status, "created": render.iso(run.record.start_ns),
        "commit": run.commit, "parameters": run.parameters, "duration": run.duration,
        "steps": [{"name": s.name, "status": s.record.status, "cached": s.cached, "parameters": s.parameters,
                   "inputs": dict(s.record.inputs), "outputs": dict(s.record.outputs), "cache_key": s.cache_key,
                   "duration": s.duration, "upstream": s.upstream, "error": s.error, "code": s.code_id,
                   "executor": dict(s.record.executor)}
                  for s in steps],
        "provenance": render.provenance_json(run.provenance),
    }


def print_code(step) -> None:
    """The exact code of a step (controls but tabs and newlines escaped), or a one-line error when none."""
    from artrepo.cli import render
    from artrepo.errors import NotFoundError

    code = step.code
    if code is None:
        raise NotFoundError(f"step {step.name!r} of run {step.run_id[:12]} has no recorded code "
                            "(run with provenance off, or by an artrepo before 0.2)")
    click.echo(render.safe_text(code), nl=False)


def print_git_diff(prov, what: str) -> None:
    from artrepo.cli import render
    from artrepo.errors import NotFoundError

    if prov is None or not prov.dirty:
        raise NotFoundError(f"{what} recorded no uncommitted changes"
                            + ("" if prov is None or prov.git_state.get("state") == "git" else " (no git state)"))
    click.echo(render.safe_text(prov.diff), nl=False)


def show_run(repo, ref: str, as_json: bool, step: str | None = None, code: bool = False,
             git_diff: bool = False) -> bool:
    """Print one run (or one of its steps, or a step's code, or its dirty diff); False if `ref` names no run."""
    from artrepo.cli import render
    from artrepo.errors import NotFoundError
    from artrepo.queries import get_run

    try:
        run = get_run(repo, ref)
    except NotFoundError:
        return False
    steps = list(run.steps.values())
    if step is not None:
        if step not in run.steps:
            raise NotFoundError(f"run {run.id[:12]} has no step {step!r} (steps: {', '.join(run.steps)})")
        steps = [run.steps[step]]
    if code:
        if step is None:
            raise click.UsageError("--code needs --step NAME for a run")
        print_code(steps[0])
        return True
    if git_diff:
        print_git_diff(run.provenance, f"run {run.id[:12]}")
        return True
    if as_json:
        render.emit_json(_run_json(run, steps))
        return True
    safe = render.safe
    click.echo(click.style(safe(f"run {run.id}"), fg="yellow"))
    click.echo(f"Pipeline:   {safe(run.pipeline)}")
    click.echo(f"Status:     {safe(run.status)}")
    click.echo(f"Started:    {render.when(run.record.start_ns)}  ({run.duration:.2f}s)")
    click.echo(f"Commit:     {safe(run.commit)}")
    if run.parameters:
        click.echo("Parameters: " + safe(", ".join(f"{k}={v!r}" for k, v in run.parameters.items())))
    if run.provenance is not None:
        for line in render.provenance_lines(run.provenance, width=12):
            click.echo(line)
    for s in steps:
        state = "cached" if s.cached else s.status
        took = f"{s.duration:.2f}s" if s.duration is not None else "-"
        click.echo(f"\nstep {safe(s.name)}: {safe(state)} ({took})")
        if s.record.executor.get("worker"):
            where = s.record.executor
            click.echo(safe(f"  ran on:     {where.get('orchestrator', '')} worker {where['worker']}"
                            + (f" ({where['host']})" if where.get("host") else "")))
        if s.parameters:
            click.echo("  parameters: " + safe(", ".join(f"{k}={v!r}" for k, v in s.parameters.items())))
        for label, items in (("in ", s.inputs), ("out", s.outputs)):
            for key, av in items.items():
                click.echo(safe(f"  {label} {key}: {av.name}:{av.version} ({av.id[:12]})"))
        if s.error:
            click.echo(f"  error: {safe(s.error)}")
        if s.code_id:
            click.echo(safe(f"  code: {s.code_id[:12]} (artrepo show {run.id[:12]} --step {s.name} --code)"))
    return True
