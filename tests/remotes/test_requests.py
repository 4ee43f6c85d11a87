"""Request counts on S3 (moto_server), counted per HTTP attempt by a botocore event hook."""
import pytest

from artrepo.storage.backend import open_backend
from artrepo.values import save_value
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.push import push
from artrepo.repository import Repository


def counted_backend(url: str, endpoint: str):
    backend = open_backend(url, endpoint)
    backend.fs.connect()
    sent = []
    backend.fs.s3.meta.events.register("before-send.s3", lambda request, **kw: sent.append(request.method))
    return backend, sent


@pytest.fixture
def bucket_repo(tmp_path, s3_env):
    endpoint, bucket = s3_env
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", f"s3://{bucket}/team", endpoint)
    return repo, f"s3://{bucket}/team", endpoint


def test_many_small_artifacts_go_up_in_a_few_requests_and_a_no_op_push_costs_one(bucket_repo):
    repo, url, endpoint = bucket_repo
    for i in range(120):
        save_value(repo, {"row": i, "text": "x" * 200}, f"item{i % 30}")
    backend, sent = counted_backend(url, endpoint)
    result = push(repo, get_remote(repo, "origin"), backend=backend)
    assert result.versions == 120
    assert len(sent) <= 8, sent  # ref table, pack, index, git pack, ref table write (+ existence check)
    sent.clear()
    for _ in range(3):
        assert push(repo, get_remote(repo, "origin"), backend=backend).up_to_date
    assert len(sent) == 3, sent  # one GET of the ref table each


def test_a_push_that_loses_the_race_rereads_and_renumbers(bucket_repo, tmp_path):
    repo, url, endpoint = bucket_repo
    other = Repository.init(tmp_path / "b")
    add_remote(other, "origin", url, endpoint)
    save_value(repo, "a", "m")
    save_value(other, "b", "m")
    # `other` reads the table, then `repo` wins the write in between: other's If-Match fails once.
    backend, sent = counted_backend(url, endpoint)
    real_read = backend.get_with_token
    raced = []

    def read_then_let_the_other_win(key):
        found = real_read(key)
        if not raced:
            raced.append(push(repo, get_remote(repo, "origin")))
        return found

    backend.get_with_token = read_then_let_the_other_win
    result = push(other, get_remote(other, "origin"), backend=backend)
    assert raced[0].versions == 1
    assert result.renumbered == ["m:1 \u2192 m:2"]
    assert sent.count("PUT") >= 4  # data, index, git pack, the refused and the winning table write
