"""The victim's side of the hostile suite: measured CLI children and what they must show.

`Victim` runs real `python -m artrepo` processes (or Python children using the
public API), each under an address-space cap and measured for peak RSS with
wait4(2); `Result.refused` is the contract of issue 14: one line on stderr, the
documented exit code, never a traceback.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MAX_CHUNK = 512 * 1024  # format.md §4: FastCDC's maximum chunk
# What a CLI process may use beyond its chunks: the interpreter, numpy, pygit2, zstd
# contexts and a few verified packs in flight (measured: a legit clone peaks near 90 MiB).
RSS_CONSTANT = 160 * 1024 * 1024
RSS_LIMIT = 2 * MAX_CHUNK + RSS_CONSTANT
# A safety net, not the measure: a buggy child must not take the shared machine down.
ADDRESS_SPACE_CAP = 3 << 30

PIPELINE = textwrap.dedent('''
    import os
    from typing_extensions import Annotated
    from artrepo import pipeline, step

    @step
    def add(a: int, b: int) -> Annotated[int, "total"]:
        return a + b

    @step
    def report(total: int) -> None:
        with open(os.environ.get("REPORT", "report.txt"), "w") as f:
            f.write(str(total))

    @pipeline
    def adder():
        report(add(a=4, b=6))
''')

SAVES = textwrap.dedent('''
    import numpy as np
    from artrepo import save_artifact
    save_artifact(10, "num")
    save_artifact(np.arange(12, dtype=np.int64).reshape(3, 4), "arr")
    save_artifact("hello", "text", tags=["clean"], metadata={"owner": "alice"})
''')


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int  # bytes, the child's maximum resident set (and its waited-for children's)

    def refused(self, code: int = 3) -> bool:
        """Exit `code` with exactly one line on stderr, never a traceback."""
        lines = self.stderr.strip().splitlines()
        return (self.returncode == code and len(lines) == 1 and lines[0].startswith("artrepo: error:")
                and "Traceback" not in self.stderr)

    def __str__(self) -> str:
        return f"exit {self.returncode}, peak {self.peak_rss >> 20} MiB\n{self.stdout}\n{self.stderr}"


# The child is started by a small launcher, not forked from pytest: on Linux a process's peak
# RSS counts the image it had before exec, so a child forked from a 200 MB pytest would start
# at 200 MB. The launcher (python -S: ~10 MB) forks the command, caps its address space, waits
# for it and writes its peak RSS (with its waited-for descendants', e.g. git) to a file.
LAUNCHER = textwrap.dedent("""
    import os, resource, sys
    report, cap, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    pid = os.fork()
    if pid == 0:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.execvp(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    with open(report, "w") as f:
        f.write(str(usage.ru_maxrss * 1024))
    sys.exit(os.waitstatus_to_exitcode(status) % 256)
""")


def measured(argv: list[str], cwd: Path, env: dict | None = None, timeout: float = 120,
             stdin: str | None = None) -> Result:
    """Run `argv` as a child and report its exit status, output and peak RSS (from wait4)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "peak"
        proc = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, str(report), str(ADDRESS_SPACE_CAP), *argv],
                              cwd=cwd, capture_output=True, input=(stdin or "").encode(), timeout=timeout,
                              env={**os.environ, **(env or {})})
        code = proc.returncode if proc.returncode < 128 else proc.returncode - 256  # -11: SIGSEGV
        peak = int(report.read_text()) if report.exists() else 0
        return Result(code, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"), peak)


def without_root_overrides(argv: list[str]) -> list[str]:
    """`argv` unable to bypass file permissions: as root, drop CAP_DAC_OVERRIDE/READ_SEARCH."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *argv]


class Victim:
    """Someone who pulls from the forged remote, with real CLI processes."""

    def __init__(self, home: Path, template: Path):
        self.home = home
        self.root = home / "victim"
        self.template = template  # a repository holding the victim's own `mine:1`

    def cli(self, *args: str, cwd: Path | None = None, env: dict | None = None, stdin: str | None = None,
            unprivileged: bool = False) -> Result:
        argv = [sys.executable, "-m", "artrepo", *args]
        return measured(without_root_overrides(argv) if unprivileged else argv, cwd or self.root, env,
                        stdin=stdin)

    def python(self, code: str, cwd: Path | None = None, env: dict | None = None,
               unprivileged: bool = False) -> Result:
        argv = [sys.executable, "-c", textwrap.dedent(code)]
        return measured(without_root_overrides(argv) if unprivileged else argv, cwd or self.root, env)

    def load(self, *names: str) -> dict[str, str]:
        """`load_artifact` of each name in one child: {name: "value: <repr>" or "<ErrorClass>: <message>"}."""
        code = f"""
            import json
            from artrepo import load_artifact
            out = {{}}
            for name in {list(names)!r}:
                try:
                    out[name] = "value: " + repr(load_artifact(name))[:200]
                except Exception as exc:
                    out[name] = f"{{type(exc).__name__}}: {{exc}}"
            print(json.dumps(out))
        """
        proc = self.python(code)
        assert proc.returncode == 0, proc  # a crash (SIGSEGV: -11) or a BaseException
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def exports(self, names, into: Path) -> dict[str, str]:
        """`ArtifactVersion.export` of each name to a folder and to a zip under `into`, in one child:
        {destination: "exported" or "<ErrorClass>: <message>", plus " (left behind)" if a failure left it}."""
        code = f"""
            import json, os
            from artrepo import Client
            out = {{}}
            for name in {list(names)!r}:
                for dest in (f"{into}/{{name}}", f"{into}/{{name}}.zip"):
                    try:
                        Client().get_artifact_version(name).export(dest)
                        out[dest] = "exported"
                    except Exception as exc:
                        out[dest] = f"{{type(exc).__name__}}: {{exc}}" + (" (left behind)" * os.path.lexists(dest))
            print(json.dumps(out))
        """
        proc = self.python(code)
        assert proc.returncode == 0, proc
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def clone(self, bucket, into: Path | None = None) -> Result:
        extra = ["--endpoint-url", bucket.endpoint] if bucket.endpoint else []
        return self.cli("clone", bucket.url, str(into or self.root), *extra, cwd=self.home)

    def project_with(self, bucket, forged=None, name: str = "evil") -> None:
        """A repository of the victim's own (one version, `mine`) with the remote `bucket` added as `name`
        (`forged` written to it first).

        Copied from a template made once per session; the remote is set in git config (format.md §11b).
        """
        if forged is not None:
            forged.write_to(bucket)
        shutil.copytree(self.template, self.root, symlinks=True)
        config = ["git", "config", "--file", str(self.root / ".artrepo" / "config")]
        subprocess.run([*config, f"artrepo-remote.{name}.url", bucket.url], check=True)
        if bucket.endpoint:
            subprocess.run([*config, f"artrepo-remote.{name}.endpoint-url", bucket.endpoint], check=True)

    def still_usable(self) -> None:
        """The victim's own version loads bit-exact, and a new save works (one child)."""
        proc = self.python("""
            from artrepo import load_artifact, save_artifact
            print(load_artifact("mine").read_text(), end="")
            save_artifact("still saving", "mine-again")
            print(load_artifact("mine-again"))
        """)
        assert proc.returncode == 0 and proc.stdout == "the victim's own data\nstill saving\n", proc


def setup_cli(*args, cwd: Path) -> None:
    """An artrepo command that builds a test's world (it must succeed)."""
    proc = subprocess.run([sys.executable, "-m", "artrepo", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


# C0 (but newline and tab), DEL, C1, and bidi overrides: what may never reach a terminal raw
TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def links_leaving(root: Path) -> list[str]:
    """Every symlink under `root` whose resolution (by the kernel) ends outside `root`."""
    root = root.resolve()
    out = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                real = Path(os.path.realpath(path))
                if real != root and root not in real.parents:
                    out.append(f"{path} -> {os.readlink(path)} ({real})")
    return out


def dashboard_home(root: Path, timeout: float = 60) -> int | str:
    """Start `artrepo ui` on a free port in `root`; the HTTP status of its home page, or why it did not start."""
    proc = subprocess.Popen([sys.executable, "-m", "artrepo", "ui", "--port", "0"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base, said = server_url(proc)
        if base is None:
            proc.wait(timeout=timeout)
            return said.strip() or f"exit {proc.returncode}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base, timeout=timeout) as resp:
                    return resp.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        proc.stderr.close()


def server_url(proc) -> tuple[str | None, str]:
    """(the address `artrepo ui` says it serves at, or None if it ended first; what it wrote on stderr until then).

    Warnings (an unreadable annotation skipped) may come before that line.
    """
    said = ""
    for line in proc.stderr:
        said += line
        found = re.search(r"at (http://\S+/)", line)
        if found:
            return found.group(1), said
    return None, said
