"""Export of an old version (issue 15): `artrepo export NAME:1 DEST` and the API against `cp`, BLAKE3 and DVC.

    .venv/bin/python bench/bench_export.py              # a 1 GiB file, 5 rounds, warm then cold page cache
    .venv/bin/python bench/bench_export.py --quick      # 256 MiB, 3 rounds
    .venv/bin/python bench/bench_export.py --no-dvc --no-cold --repeat 3

Setup, as users do it (in $BENCH_SCRATCH/export, default /tmp/artrepo-bench):
a random file `data.bin` (os.urandom) is registered (`artrepo register
data.bin --name big`, version 1), 1 % of it in the middle is overwritten in
place and it is registered again (version 2). A git+DVC project gets the same
two states (`dvc add`, git commit, each), DVC 3.67.1 from a bench-private
venv ($BENCH_SCRATCH/venv-dvc, made with python3.11 + pip if absent; its
cache link type is DVC's default, `reflink,copy`, i.e. copy on ext4; analytics
and the update check, a background process per command, off).

Timed, interleaved, REPEAT rounds; every destination is a new file, removed
after each measurement. Round r starts with contestant r % n (each one first
once in n rounds) and runs the others in an order shuffled with seed r, so that
each follows a different one from round to round (a plain rotation put each
one always after the same neighbour: the CLI export after the deletion of
`cp + BLAKE3`'s 1 GiB copy).
Before each measurement, untimed: `sync`, 0.2 s, then a junk file of the
measured size is written in 2 MiB pieces and deleted (`settle`). This VM hands
memory that has been free for ~2 s back to the host (virtio_balloon's free page
reporting, /sys/module/page_reporting) and whichever writer takes it again pays
a host fault per 4 KiB in the kernel's copy into the page cache (up to 10x
slower); which writer that was depended on its place after a deletion and on
the size of its writes (docs/performance.md, "Export of an old version"). The
junk file pays it, untimed, and leaves as much memory free and backed for the
contestant that follows, whichever one it is (twice the size when cold: the
sources are read into the page cache again too).

  cli export     `artrepo export big:1 DEST` (a whole CLI process; DEST a new folder)
  api export     `Client().get_artifact_version("big:1").export(DEST)` in this process
  load_artifact  `load_artifact("big", version=1)` with its read-only copy
                 (.artrepo/cache/paths/) removed first: the load of a registered file
  download_files `Client().get_artifact_version("big:1").download_files(DEST.zip)`,
                 ZenML's zip (this random file is stored in it as is, not deflated;
                 the first round's zip is read back with zipfile, its CRC-32 checked)
  cp             coreutils `cp` of the version-1 file (copy_file_range on ext4)
  BLAKE3         one pass of the `blake3` package over a mapping of that file,
                 one thread (the default max_threads=1, as artrepo hashes a chunk)
  cp + BLAKE3    the floor: an exported file is copied and verified
  dvc checkout   `git checkout <rev1> -- data.bin.dvc && dvc checkout data.bin`
                 (the old copy comes from DVC's cache), switched back untimed

Printed: each one's median (of the rounds after the first) and speed, its
median CPU time (user + system, the process and its children), the
ratios speed(export) / speed(cp + BLAKE3) (issue 15's bound: >= 0.8) and
speed(export) / speed(dvc checkout) (bound: >= 1).

Warm: every source file was read just before (the page cache holds them).
Cold: before each measurement the files it reads (packs; the version-1 file;
DVC's cache) are dropped from the page cache with posix_fadvise(DONTNEED),
per file, which needs no root and leaves other processes' cache alone
(the cold cp + BLAKE3 floor is a cold cp, then BLAKE3 over what it just read).
"""
from __future__ import annotations

import argparse
import mmap
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import MiB, Table, compile_sources, save_results, scratch, summary  # noqa: E402
from common import settle as writeback  # noqa: E402

DVC_VERSION = "3.67.1"
NAME = "big"
JUNK_WRITE = 2 * MiB  # settle's writes: the page cache takes 2 MiB folios, freed as blocks any allocation can split


def settle(folder: Path, size: int) -> None:
    """Flush, then write and delete a junk file of `size` bytes: the memory the host took back (free page
    reporting) is faulted in here, untimed, and left free for the next measurement, whichever it is."""
    writeback()
    junk = folder / "settle.junk"
    block, pos = bytes(JUNK_WRITE), 0
    fd = os.open(junk, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while pos < size:
            pos += os.pwrite(fd, memoryview(block)[:size - pos], pos)
    finally:
        os.close(fd)
    junk.unlink()
    os.sync()


def round_order(names: list[str], r: int) -> list[str]:
    """Round r's order: names[r % n] first (each one first once in n rounds), the others shuffled (seeded by r)."""
    first = names[r % len(names)]
    rest = [name for name in names if name != first]
    random.Random(r).shuffle(rest)
    return [first, *rest]


def cpu() -> float:
    """User + system time of this process and its children so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(cmd, cwd: Path, env: dict | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd))} (in {cwd}) failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // (64 * MiB)):
            f.write(os.urandom(64 * MiB))
        f.write(os.urandom(size % (64 * MiB)))


def edit_middle(path: Path, patch: bytes) -> None:
    """Overwrite len(patch) bytes in the middle of `path`, in place (1 % of it)."""
    with open(path, "r+b") as f:
        f.seek((path.stat().st_size - len(patch)) // 2)
        f.write(patch)


def files_under(*roots: Path) -> list[Path]:
    out = []
    for root in roots:
        if root.is_file():
            out.append(root)
        for folder, _dirs, names in os.walk(root):
            out += [Path(folder) / n for n in names]
    return out


def evict(paths: list[Path]) -> None:
    """Drop these files' clean pages from the page cache (they were synced)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(paths: list[Path]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(8 * MiB):
                pass


def blake3_pass(path: Path) -> bytes:
    import blake3

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return blake3.blake3(m).digest()  # max_threads=1: artrepo's chunk_id


def dvc_bin(base: Path) -> Path | None:
    """DVC in a bench-private venv, installed there if absent; None (said why) if that fails."""
    venv = base / "venv-dvc"
    dvc = venv / "bin" / "dvc"
    if not dvc.exists():
        py = shutil.which("python3.11") or sys.executable
        print(f"installing dvc=={DVC_VERSION} into {venv} ...", flush=True)
        try:
            subprocess.run([py, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"dvc=={DVC_VERSION}"], check=True,
                           capture_output=True, timeout=1200)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"DVC could not be installed ({exc}); its comparison is left out", flush=True)
            shutil.rmtree(venv, ignore_errors=True)
            return None
    return dvc


class Setup:
    def __init__(self, folder: Path, size: int, with_dvc: bool):
        self.folder, self.size = folder, size
        self.src = folder / "v1.bin"  # the version-1 bytes, the baselines' source
        self.repo = folder / "repo"
        self.out = folder / "out"
        self.out.mkdir()
        self.cli = Path(sys.executable).with_name("artrepo")
        write_random(self.src, size)
        patch = os.urandom(size // 100)
        # artrepo, through its CLI
        self.repo.mkdir()
        run([self.cli, "init", "."], self.repo)
        data = self.repo / "data.bin"
        shutil.copyfile(self.src, data)
        run([self.cli, "register", "data.bin", "--name", NAME], self.repo)
        edit_middle(data, patch)
        run([self.cli, "register", "data.bin", "--name", NAME], self.repo)
        data.unlink()
        self.packs = files_under(self.repo / ".artrepo" / "chunks")
        # DVC
        self.dvc = dvc_bin(folder.parent) if with_dvc else None
        self.dvc_env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
        self.dvc_cache: list[Path] = []
        if self.dvc is not None:
            self.dvc_project(patch)

    def dvc_project(self, patch: bytes) -> None:
        proj, dvc, env = self.folder / "dvc", str(self.dvc), self.dvc_env
        proj.mkdir()
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        run([*git, "init", "-q"], proj)
        run([dvc, "init", "-q"], proj, env)
        run([dvc, "config", "core.analytics", "false"], proj, env)
        run([dvc, "config", "core.check_update", "false"], proj, env)  # else each command spawns an updater
        shutil.copyfile(self.src, proj / "data.bin")
        run([dvc, "add", "-q", "data.bin"], proj, env)
        run([*git, "add", "-A"], proj)
        run([*git, "commit", "-q", "-m", "v1"], proj)
        self.rev1 = run(["git", "rev-parse", "HEAD"], proj).strip()
        edit_middle(proj / "data.bin", patch)
        run([dvc, "add", "-q", "data.bin"], proj, env)
        run([*git, "commit", "-q", "-am", "v2"], proj)
        self.dvc_cache = files_under(proj / ".dvc" / "cache")
        self.proj = proj

    def check(self, exported: Path) -> None:
        if blake3_pass(exported) != blake3_pass(self.src):
            raise SystemExit(f"{exported} is not version 1")

    def check_zip(self, zipped: Path) -> None:
        """The zip's one entry is version 1 (zipfile checks its CRC-32 as it reads it)."""
        import zipfile

        import blake3

        hasher = blake3.blake3()
        with zipfile.ZipFile(zipped) as zf, zf.open(zf.infolist()[0]) as member:
            while block := member.read(1 << 24):
                hasher.update(block)
        if hasher.digest() != blake3_pass(self.src) or len(zf.infolist()) != 1:
            raise SystemExit(f"{zipped} is not version 1")


def measurements(s: Setup) -> dict:
    """name -> (files read, the timed callable given a fresh destination, cleanup)."""
    import artrepo
    from artrepo.client import Client
    from artrepo.gitdb import layout
    from artrepo.payload import remove_read_only

    os.chdir(s.repo)
    paths_cache = layout.paths_cache(s.repo / ".artrepo")

    def cli(dest):
        run([s.cli, "export", f"{NAME}:1", dest], s.repo)

    def api(dest):
        Client().get_artifact_version(f"{NAME}:1").export(dest)

    def load(_dest):
        got = artrepo.load_artifact(NAME, version=1)
        assert got.stat().st_size == s.src.stat().st_size

    def zipped(dest):
        Client().get_artifact_version(f"{NAME}:1").download_files(dest.with_suffix(".zip"))

    def cp(dest):
        run(["cp", s.src, dest], s.out)

    def b3(_dest):
        blake3_pass(s.src)

    def cp_b3(dest):  # timed as one: on a cold cache BLAKE3 reads what cp just read
        run(["cp", s.src, dest], s.out)
        blake3_pass(s.src)

    def dvc(_dest):
        run(["sh", "-c", f"git checkout -q {s.rev1} -- data.bin.dvc && '{s.dvc}' checkout -q data.bin"],
            s.proj, s.dvc_env)

    def dvc_back():
        run(["sh", "-c", f"git checkout -q HEAD -- data.bin.dvc && '{s.dvc}' checkout -q data.bin"],
            s.proj, s.dvc_env)

    ops = {
        "cli export": (s.packs, cli, None),
        "api export": (s.packs, api, None),
        "load_artifact": (s.packs, load, lambda: remove_read_only(paths_cache)),
        "download_files": (s.packs, zipped, None),
        "cp": ([s.src], cp, None),
        "BLAKE3": ([s.src], b3, None),
        "cp + BLAKE3": ([s.src], cp_b3, None),
    }
    if s.dvc is not None:
        ops["dvc checkout"] = (s.dvc_cache, dvc, dvc_back)
    remove_read_only(paths_cache)
    return ops


def measure(s: Setup, repeat: int, cold: bool) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """{name: seconds per round}, {name: CPU seconds per round}."""
    ops = measurements(s)
    times: dict[str, list[float]] = {k: [] for k in ops}
    cpus: dict[str, list[float]] = {k: [] for k in ops}
    names = list(ops)
    warm([*s.packs, s.src, *s.dvc_cache])
    for r in range(repeat):
        for name in round_order(names, r):
            reads, fn, cleanup = ops[name]
            dest = s.out / f"{name.replace(' ', '-')}-{r}"
            settle(s.out, s.size * (2 if cold else 1))  # cold: the sources' page cache is taken again too
            if cold:
                evict(reads)
            c, t = cpu(), time.perf_counter()
            fn(dest)
            times[name].append(time.perf_counter() - t)
            cpus[name].append(cpu() - c)
            if r == 0 and name in ("cli export", "dvc checkout"):  # each gives version 1's bytes
                s.check(dest / "file" / "data.bin" if name == "cli export" else s.proj / "data.bin")
            if r == 0 and name == "download_files":
                s.check_zip(dest.with_suffix(".zip"))
            if dest.is_dir():
                shutil.rmtree(dest)
            for leftover in (dest, dest.with_suffix(".zip")):
                leftover.unlink(missing_ok=True)
            if cleanup:
                cleanup()
    return times, cpus


def report(title: str, times: dict[str, list[float]], cpus: dict[str, list[float]], size: int) -> Table:
    med = {k: summary(v)["median"] for k, v in times.items()}
    gbs = {k: size / v / 1e9 for k, v in med.items()}
    print(f"\n{title}: median of rounds 2.. (all rounds, s)")
    for k, v in times.items():
        print(f"    {k:14} {med[k]:7.3f} s  {gbs[k]:5.2f} GB/s   [{', '.join(f'{x:.3f}' for x in v)}]")
    print("  CPU (user + system, with child processes), median of rounds 2..: "
          + ", ".join(f"{k} {summary(v)['median']:.2f} s" for k, v in cpus.items()))
    table = Table(title)
    floor = med["cp + BLAKE3"]
    for k in ("cli export", "api export", "load_artifact", "download_files"):
        table.add(f"{k} / (cp + BLAKE3)", ">= 0.8x", f"{floor / med[k]:.2f}x ({med[k]:.3f} s vs {floor:.3f} s)",
                  floor / med[k] >= 0.8, seconds=med[k], floor=floor)
    for k in ("cli export", "api export"):
        table.add(f"{k} / cp", "n/a", f"{med['cp'] / med[k]:.2f}x", None)
    if "dvc checkout" in med:
        d = med["dvc checkout"]
        for k in ("cli export", "api export"):
            table.add(f"{k} / dvc checkout", ">= 1x", f"{d / med[k]:.2f}x ({med[k]:.3f} s vs {d:.3f} s)",
                      d / med[k] >= 1, seconds=med[k], dvc=d)
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="256 MiB, 3 rounds")
    ap.add_argument("--no-dvc", action="store_true")
    ap.add_argument("--no-cold", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.size_mib, args.repeat = 256, 3
    size = args.size_mib * MiB
    compile_sources()
    print(f"rerun: {' '.join([Path(sys.executable).name, *sys.argv])}   (load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores)", flush=True)
    folder = scratch("export")
    t = time.perf_counter()
    s = Setup(folder, size, not args.no_dvc)
    print(f"setup: {args.size_mib} MiB, registered twice{', DVC project' if s.dvc else ''} in "
          f"{time.perf_counter() - t:.0f} s", flush=True)
    print("each round: contestant r % n first, the others shuffled (seed r); before each measurement, untimed: sync, "
          "0.2 s, a junk file of the measured size (2x cold) written in 2 MiB pieces and deleted (it pays the host "
          "faults of memory the VM's free page reporting handed back: docs/performance.md)", flush=True)
    tables, raw = [], {}
    try:
        for cold in (False,) if args.no_cold else (False, True):
            title = f"export of version 1, {args.size_mib} MiB, {'cold' if cold else 'warm'} page cache"
            times, cpus = measure(s, args.repeat, cold)
            raw[title] = {"seconds": times, "cpu": cpus}
            tables.append(report(title, times, cpus, size))
    finally:
        os.chdir(BENCH)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for table in tables:
        print("\n" + table.render())
    print(f"results: {save_results('bench_export', tables, {'size': size, 'runs': raw})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
