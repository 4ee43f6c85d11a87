"""`artrepo run`, and the run history shown by `artrepo log` and `artrepo show RUN`."""
from __future__ import annotations

import click


_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null"}  # words YAML reads as no string


def _parse_parameter(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="-p")
    return key.strip(), _scalar(value)


def _scalar(value: str):
    """`value` as YAML reads a scalar; a plain integer or word without importing yaml (a cached run's start)."""
    text = value.strip()
    if not text:
        return ""
    digits = text[1:] if text[0] in "+-" else text
    if digits.isascii() and digits.isdigit() and (digits == "0" or digits[0] != "0"):  # "010" is octal to YAML
        return int(text)
    if (text.isascii() and text[0].isalpha() and text.replace("_", "").replace("-", "").isalnum()
            and text.lower() not in _YAML_WORDS):
        return text
    import yaml

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


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
    from artrepo.cli.render import safe
    from artrepo.client import active_repository
    from artrepo.runtime.driver import RunOptions, StepFailedError, run_pipeline
    from artrepo.runtime.loader import find_pipeline
    from artrepo.runtime.options import read_config

    parameters = dict(_parse_parameter(p) for p in params)
    config = read_config(config_path) if config_path else {}
    repo = active_repository()  # fail fast outside a repository, before importing user code
    if stack is not None:
        from artrepo.stacks import get_stack

        get_stack(repo, stack)  # an unknown stack fails before user code is imported
    pipeline, source = find_pipeline(target)
    options = RunOptions(no_cache=no_cache, explain=explain, config=pipeline.run_config(config),
                         parameters=parameters, parallel=parallel, source=source,
                         report=lambda line: click.echo(safe(line, newlines=True)), stack=stack)
    try:
        run = run_pipeline(pipeline, (), {}, options)
    except StepFailedError as exc:
        _summary(exc.run)
        raise
    _summary(run)


def _summary(run) -> None:
    steps = run.steps.values()
    cached = sum(s.cached for s in steps)
    from artrepo.cli.render import safe

    click.echo(safe(f"run {run.id} of {run.pipeline}: {run.status} ({len(steps)} steps, {cached} cached, "
                    f"{run.duration:.2f}s)"))


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


def _run_json(run) -> dict:
    from artrepo.cli import render

    return {
        "id": run.id, "pipeline": run.pipeline, "status": run.status, "created": render.iso(run.record.start_ns),
        "commit": run.commit, "parameters": run.parameters, "duration": run.duration,
        "steps": [{"name": s.name, "status": s.record.status, "cached": s.cached, "parameters": s.parameters,
                   "inputs": dict(s.record.inputs), "outputs": dict(s.record.outputs), "cache_key": s.cache_key,
                   "duration": s.duration, "upstream": s.upstream, "error": s.error,
                   "executor": dict(s.record.executor)}
                  for s in run.steps.values()],
    }


def show_run(repo, ref: str, as_json: bool) -> bool:
    """Print one run; False if `ref` names no run."""
    from artrepo.cli import render
    from artrepo.errors import NotFoundError
    from artrepo.queries import get_run

    try:
        run = get_run(repo, ref)
    except NotFoundError:
        return False
    if as_json:
        render.emit_json(_run_json(run))
        return True
    safe = render.safe
    click.echo(click.style(safe(f"run {run.id}"), fg="yellow"))
    click.echo(f"Pipeline:   {safe(run.pipeline)}")
    click.echo(f"Status:     {safe(run.status)}")
    click.echo(f"Started:    {render.when(run.record.start_ns)}  ({run.duration:.2f}s)")
    click.echo(f"Commit:     {safe(run.commit)}")
    if run.parameters:
        click.echo("Parameters: " + safe(", ".join(f"{k}={v!r}" for k, v in run.parameters.items())))
    for s in run.steps.values():
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
    return True
