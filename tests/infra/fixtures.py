"""Pytest fixtures for the real components the team tests use. Each skips with the reason (and the install
command) where its package is absent; `.ci/run` installs them all, so CI never skips."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra import haproxy, postgres, s3
from tests.infra.oauth_issuer import OAuthIssuer


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres.PostgresCluster]:
    if reason := postgres.missing_reason():
        pytest.skip(reason)
    pytest.importorskip("psycopg", reason='psycopg is not installed (pip install -e ".[dev]")')
    cluster = postgres.start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: postgres.PostgresCluster) -> str:
    """A fresh database in the session's cluster."""
    return postgres_cluster.new_database()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[s3.S3Server]:
    if reason := s3.missing_reason():
        pytest.skip(reason)
    server = s3.S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def haproxy_available() -> None:
    if reason := haproxy.missing_reason():
        pytest.skip(reason)


@pytest.fixture
def oauth_issuer() -> Iterator[OAuthIssuer]:
    with OAuthIssuer() as issuer:
        yield issuer
