"""The real components the team tests stand on start, answer and stop: PostgreSQL, the S3 server, haproxy."""

from __future__ import annotations

import httpx2

from tests.infra.haproxy import HAProxy
from tests.infra.postgres import PostgresCluster
from tests.infra.s3 import CREDENTIALS, S3Server


def test_postgres_cluster_gives_each_test_its_own_database(postgres_cluster: PostgresCluster) -> None:
    import psycopg

    first, second = postgres_cluster.new_database(), postgres_cluster.new_database()
    assert first != second and first.startswith("postgresql://easel@127.0.0.1:")
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone() == (0,)
    postgres_cluster.restart()
    with psycopg.connect(first) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_s3_server_over_http(s3_server: S3Server) -> None:
    import obstore
    from obstore.store import S3Store

    bucket = s3_server.bucket()
    store = S3Store(
        bucket,
        endpoint=s3_server.endpoint,
        access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region=CREDENTIALS["AWS_REGION"],
        client_options={"allow_http": True},
    )
    obstore.put(store, "user/a.png", b"\x89PNG...")
    assert bytes(obstore.get(store, "user/a.png").bytes()) == b"\x89PNG..."
    assert [m["path"] for m in obstore.list(store, prefix="user").collect()] == ["user/a.png"]


async def _whoami(scope: dict[str, object], receive: object, send: object) -> None:  # a tiny backend
    port = scope["server"][1]  # type: ignore[index]
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": str(port).encode()})  # type: ignore[operator]


def test_haproxy_spreads_requests_over_the_backends(haproxy_available: None) -> None:
    from tests.fakes.server import serve, shutdown

    started = [serve(_whoami, f"backend-{i}") for i in range(3)]
    try:
        with HAProxy([port for _, _, port in started]) as lb:
            seen = {httpx2.get(f"{lb.url}/healthz", timeout=30).text for _ in range(6)}
        assert seen == {str(port) for _, _, port in started}
    finally:
        for server, thread, _ in started:
            shutdown(server, thread)
