"""Fixtures of tests/remote_fixtures.py: moto_server, s3_env, remote_url (folder, memory://, S3)."""
from remote_fixtures import moto_server, remote_url, s3_env  # noqa: F401
