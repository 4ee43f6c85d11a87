"""`artrepo run FILE_OR_MODULE[:PIPELINE] [-p KEY=VALUE ...]` without click.

A fully cached run takes a few milliseconds; importing click (and `inspect`
with it) would cost several times that, so the plain form of `artrepo run` is
read here by hand and runs through the same functions as the click command
(`artrepo.cli.commands.run`). Any other command line (another option, -h,
--help, a malformed -p, shell completion) goes to click unchanged.

    plain_run(["run", "linear.py:linear10", "-p", "i=1"])  # ("linear.py:linear10", ["i=1"])
"""
from __future__ import annotations

import errno
import os
import sys

_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null"}  # words YAML reads as no string


def echo(text: str, err: bool = False) -> None:
    """One line on stdout (or stderr), flushed, as `click.echo` writes it."""
    stream = sys.stderr if err else sys.stdout
    if stream is not None:
        stream.write(text + "\n")
        stream.flush()


def parameter(text: str) -> tuple[str, object] | None:
    """(key, value) of `-p KEY=VALUE`, the value as YAML reads a scalar; None if `text` is not KEY=VALUE."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        return None
    return key.strip(), scalar(value)


def scalar(value: str):
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


def plain_run(args: list[str]) -> tuple[str, dict] | None:
    """(target, parameters) when `args` is exactly `run TARGET [-p KEY=VALUE | --parameter KEY=VALUE ...]`."""
    if not args or args[0] != "run" or os.environ.get("_ARTREPO_COMPLETE"):
        return None
    target, params, rest = None, {}, iter(args[1:])
    for arg in rest:
        if arg in ("-p", "--parameter"):
            text = next(rest, "-")
            pair = None if text.startswith("-") else parameter(text)
            if pair is None:
                return None  # click says what is wrong
            params[pair[0]] = pair[1]
        elif target is None and arg and not arg.startswith("-"):
            target = arg
        else:
            return None
    return None if target is None else (target, params)


def run_target(target: str, parameters: dict, *, config_path: str | None = None, no_cache: bool = False,
               explain: bool = False, parallel: int | None = None, stack: str | None = None) -> None:
    """Run the pipeline `target` names, one line per step and a summary on stdout (`artrepo run`)."""
    from artrepo.cli.render import safe
    from artrepo.runtime.driver import RunOptions, StepFailedError, run_pipeline
    from artrepo.runtime.loader import find_pipeline
    from artrepo.runtime.options import read_config
    from artrepo.workdir import active_repository

    config = read_config(config_path) if config_path else {}
    repo = active_repository()  # fail fast outside a repository, before importing user code
    if stack is not None:
        from artrepo.stacks import get_stack

        get_stack(repo, stack)  # an unknown stack fails before user code is imported
    pipeline, source = find_pipeline(target)
    options = RunOptions(no_cache=no_cache, explain=explain, config=pipeline.run_config(config),
                         parameters=parameters, parallel=parallel, source=source,
                         report=lambda line: echo(safe(line, newlines=True)), stack=stack)
    try:
        run = run_pipeline(pipeline, (), {}, options)
    except StepFailedError as exc:
        _summary(exc.run)
        raise
    _summary(run)


def run_plain(target: str, parameters: dict) -> None:
    """`run_target` as click runs its command: ^C is 'aborted' (130), a closed stdout pipe exits 1 quietly."""
    try:
        run_target(target, parameters)
    except (EOFError, KeyboardInterrupt):
        echo("", err=True)  # closes the terminal's ^C echo
        echo("artrepo: aborted", err=True)
        sys.exit(130)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's last flush must not fail
        sys.exit(1)


def _summary(run) -> None:
    from artrepo.cli.render import safe

    steps = run.steps.values()
    cached = sum(s.cached for s in steps)
    echo(safe(f"run {run.id} of {run.pipeline}: {run.status} ({len(steps)} steps, {cached} cached, "
              f"{run.duration:.2f}s)"))
