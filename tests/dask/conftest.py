"""One LocalCluster per pytest session (2 worker processes, one thread each), started by the first test
that asks for it; S3 on moto_server (tests/remote_fixtures.py); what the driver submits, recorded."""
from __future__ import annotations

import logging
import pickle

import pytest

from remote_fixtures import MOTO_ENV, moto_server, s3_env  # noqa: F401


@pytest.fixture(scope="session")
def dask_cluster():
    from distributed import LocalCluster

    # the workers' own environment holds the bucket's credentials, as on a real cluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR, env=dict(MOTO_ENV))
    yield cluster
    cluster.close()


@pytest.fixture
def scheduler_address(dask_cluster):
    return dask_cluster.scheduler_address


class Submitted(list):
    """(key, pickled bytes of everything sent with it) of every task the driver submitted."""

    @property
    def steps(self) -> list[str]:
        return [key.split("-", 2)[2].rsplit("-", 1)[0] for key, _ in self]


@pytest.fixture
def submitted(monkeypatch):
    import distributed

    record = Submitted()
    original = distributed.Client.submit

    def submit(self, func, *args, key=None, **kwargs):
        if key and key.startswith("artrepo-"):
            record.append((key, pickle.dumps((func, args, kwargs))))
        return original(self, func, *args, key=key, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", submit)
    return record


@pytest.fixture
def dask_stack(project, scheduler_address):
    """Register (and make active) a Dask stack on the session cluster, its store `remote` if given."""
    from artrepo.client import active_repository
    from artrepo.stacks import register_stack, set_active

    def make(name: str = "cluster", remote: str | None = None):
        repo = active_repository(project)
        register_stack(repo, name, "dask", scheduler=scheduler_address, artifact_store=remote)
        set_active(repo, name)
        return name

    return make
