"""Root command group; every ArtrepoError becomes one line on stderr and its exit code.

`artrepo run FILE[:PIPELINE] [-p KEY=VALUE ...]` runs without importing click
(`artrepo.cli.fastrun`): a cached run is over before click would be loaded.
"""
from __future__ import annotations

import errno
import sys

from artrepo.cli.fastrun import echo

# command name -> module under artrepo.cli.commands (imported only when run or listed)
COMMANDS = {
    "init": "init", "log": "log", "show": "show", "list": "list", "register": "register",
    "tag": "tag", "alias": "alias", "export": "export",
    "run": "run", "lineage": "lineage", "diff": "diff", "compare": "diff",
    "remote": "remote", "push": "transfer", "pull": "transfer", "clone": "transfer",
    "fsck": "maintenance", "gc": "maintenance", "du": "maintenance",
    "ui": "ui", "stack": "stack",
    "artifact": "artifact",  # ZenML's spellings: artifact list, artifact version list|describe|update, ...
}


def _cli():
    """The click group of every command, each imported only when run or listed."""
    import importlib

    import click

    class LazyGroup(click.Group):
        def list_commands(self, ctx):
            return sorted(COMMANDS)

        def get_command(self, ctx, name):
            if name not in COMMANDS:
                return None
            return getattr(importlib.import_module(f"artrepo.cli.commands.{COMMANDS[name]}"), name + "_cmd")

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="artrepo", prog_name="artrepo")
    def cli():
        """artrepo: versioned, deduplicated artifacts and pipeline runs in a git repository."""

    return cli


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr, like errors (no source location: it is not the user's code)."""
    from artrepo.cli.render import safe

    echo(f"artrepo: warning: {safe(message)}", err=True)


def _click_main(argv) -> None:
    import click

    try:
        _cli().main(args=argv, prog_name="artrepo", standalone_mode=False)
    except click.exceptions.Abort:
        echo("artrepo: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


def _starved_line(exc: OSError) -> str:
    """The one line for a process out of memory or open files. What it imports may fail: no file may be left
    to open a module with (then the limit goes unnamed)."""
    if exc.errno == errno.ENOMEM:
        return "artrepo: error: out of memory"
    try:
        import resource

        limit = f"this process may open {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}; "
    except (OSError, ImportError):
        limit = ""
    return f"artrepo: error: too many open files ({limit}raise it with `ulimit -n`)"


def main(argv=None) -> None:
    import warnings

    from artrepo.cli.fastrun import plain_run, run_plain
    from artrepo.errors import ArtrepoError, starved

    warnings.showwarning = _warning_line
    try:
        plain = plain_run(sys.argv[1:] if argv is None else list(argv))
        if plain is not None:
            run_plain(*plain)
        else:
            _click_main(argv)
    except ArtrepoError as exc:
        from artrepo.cli.render import safe

        echo(f"artrepo: error: {safe(exc)}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:
        if starved(exc):
            echo(_starved_line(exc), err=True)
            sys.exit(1)
        if exc.errno not in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        from artrepo.cli.render import safe

        where = f" {safe(exc.filename)}" if exc.filename else ""
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            echo(f"artrepo: error: cannot access{where}: {safe(exc.strerror)} (is the repository read-only "
                 "to you?); nothing was published", err=True)
        else:
            echo(f"artrepo: error: no space left on device{where and ' while writing' + where} "
                 f"({safe(exc.strerror)}); nothing was published", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        echo("artrepo: interrupted", err=True)
        sys.exit(130)
    sys.exit(0)
