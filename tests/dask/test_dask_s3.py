"""A Dask stack whose artifact store is an S3 bucket (moto_server): workers read and write the bucket
themselves, only small records cross the scheduler, no secret is sent, and two drivers publish at once."""
from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import textwrap

import numpy as np
from typing_extensions import Annotated

from artrepo import load_artifact, pipeline, step
from artrepo_testing import ROOT, git_fsck, run_cli
from test_dask_runs import fsck_clean, run

MB = 1 << 20


@step
def big(mb: int = 50) -> Annotated[np.ndarray, "big"]:
    return np.random.default_rng(11).integers(0, 255, mb * MB, dtype=np.uint8)


@step
def checksum(x: np.ndarray) -> Annotated[int, "checksum"]:
    return int(x[::4096].astype(np.int64).sum())


@pipeline
def big_pipe(mb: int = 50):
    checksum(big(mb=mb))


def s3_stack(project, s3_env, dask_stack, name: str = "s3stack"):
    from artrepo.client import active_repository
    from artrepo.remotes.config import add_remote

    endpoint, bucket = s3_env
    add_remote(active_repository(project), "team", f"s3://{bucket}/artifacts", endpoint)
    return dask_stack(name, remote="team")


class SchedulerTraffic:
    """Bytes read and written by the scheduler's sockets, counted in distributed's TCP comm (the session
    cluster's scheduler runs in this process): its own connections, and those it opens to workers."""

    def __init__(self, cluster):
        self.port = int(cluster.scheduler_address.rsplit(":", 1)[1])
        self.workers = set(cluster.scheduler_info["workers"])
        self.read = self.written = 0
        self._local = contextvars.ContextVar("comm", default=None)

    def _ours(self, local: str | None, peer: str | None) -> bool:
        return (local or "").endswith(f":{self.port}") or peer in self.workers

    def install(self, monkeypatch) -> "SchedulerTraffic":
        from distributed.comm import tcp

        read_bytes, add_header, write = tcp.read_bytes_rw, tcp._add_frames_header, tcp.TCP.write

        async def counting_read(stream, n):
            local = "tcp://%s:%d" % stream.socket.getsockname()[:2] if stream.socket else None
            peer = "tcp://%s:%d" % stream.socket.getpeername()[:2] if stream.socket else None
            if self._ours(local, peer):
                self.read += n
            return await read_bytes(stream, n)

        def counting_header(frames):
            out = add_header(frames)
            if self._local.get():
                self.written += out[2]
            return out

        async def counting_write(comm, msg, *args, **kwargs):
            token = self._local.set(self._ours(comm.local_address, comm.peer_address))
            try:
                return await write(comm, msg, *args, **kwargs)
            finally:
                self._local.reset(token)

        monkeypatch.setattr(tcp, "read_bytes_rw", counting_read)
        monkeypatch.setattr(tcp, "_add_frames_header", counting_header)
        monkeypatch.setattr(tcp.TCP, "write", counting_write)
        return self


def test_a_50_mb_output_never_crosses_the_scheduler(project, s3_env, dask_stack, dask_cluster, monkeypatch):
    s3_stack(project, s3_env, dask_stack)
    traffic = SchedulerTraffic(dask_cluster).install(monkeypatch)
    result = run(big_pipe)
    assert result.status == "completed", [s.error for s in result.steps.values()]
    assert result.steps["big"].outputs["big"].size >= 50 * MB
    per_step = (traffic.read + traffic.written) / 2
    assert traffic.read > 1000 and traffic.written > 1000  # the counter sees the run's messages
    print(f"scheduler traffic: read {traffic.read} B, written {traffic.written} B for 2 steps")
    assert per_step < 64 * 1024, (traffic.read, traffic.written)
    assert not dask_cluster.scheduler.tasks  # nothing of the run is held by the scheduler afterwards
    expected = int(np.random.default_rng(11).integers(0, 255, 50 * MB, dtype=np.uint8)[::4096].astype(np.int64).sum())
    assert load_artifact("checksum") == expected
    fsck_clean(project, "team")
    fsck_clean(project)  # the data stayed in the bucket: the local repository knows where (stored-on/)


def test_no_secret_is_in_what_is_submitted(project, s3_env, dask_stack, submitted, monkeypatch):
    secret = "Sup3rS3cretKeyThatMustNeverTravel0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)  # the driver's; the workers have their own
    s3_stack(project, s3_env, dask_stack)
    result = run(big_pipe, mb=1)
    assert result.status == "completed"
    assert len(submitted) == 2
    for key, sent in submitted:
        assert secret.encode() not in sent, key
        assert s3_env[0].encode() in sent  # the store's settings travel (endpoint), credentials never
    fsck_clean(project, "team")


def test_two_drivers_publishing_to_one_bucket_at_once_both_land(project, tmp_path, s3_env, dask_stack,
                                                                 scheduler_address):
    endpoint, bucket = s3_env
    script = textwrap.dedent(f'''
        import sys
        from typing_extensions import Annotated
        from artrepo import pipeline, step

        @step
        def produce(tag: str) -> Annotated[str, "shared_result"]:
            return tag * 1000

        @pipeline
        def team(tag: str = "x"):
            produce(tag=tag)
    ''')
    drivers = []
    for i in range(2):
        root = tmp_path / f"clone{i}"
        root.mkdir()
        (root / "team.py").write_text(script)
        for args in (["init"], ["remote", "add", "team", f"s3://{bucket}/shared", "--endpoint-url", endpoint],
                     ["stack", "register", "cluster", "-o", "dask", "--scheduler", scheduler_address,
                      "-a", "team", "--set"]):
            run_cli(*args, cwd=root, check=True)
        drivers.append(root)
    procs = [subprocess.Popen([sys.executable, "-m", "artrepo", "run", "team.py", "-p", f"tag=d{i}"], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
             for i, root in enumerate(drivers)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    clone = tmp_path / "reader"
    run_cli("clone", f"s3://{bucket}/shared", str(clone), "--endpoint-url", endpoint, check=True)
    log = run_cli("log", "shared_result", "--json", cwd=clone, check=True).stdout
    import json

    versions = json.loads(log)
    assert sorted(v["version"] for v in versions) == ["1", "2"]  # one was renumbered on publish
    runs = json.loads(run_cli("log", "--json", cwd=clone, check=True).stdout)
    assert len(runs) == 2
    values = sorted(run_cli("export", f"shared_result:{v}", str(tmp_path / f"out{v}"), cwd=clone).returncode
                    for v in ("1", "2"))
    assert values == [0, 0]
    for root in drivers:
        fsck_clean(root, "team")
        git_fsck(root)
    fsck_clean(clone)
