"""Per-user identity in the money: every ledger row carries the user (the OAuth subject), each user has budgets of
their own on top of everyone's (EASEL_USER_DAILY_BUDGET_USD, EASEL_USER_MONTHLY_BUDGET_USD), and usage reports
group by user. On both ledger backends, and end to end through OAuth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.budgets import Budgets
from easel_mcp.errors import BudgetExceeded
from easel_mcp.ledger import Ledger
from easel_mcp.settings import Settings
from easel_mcp.storage.ports import LedgerPort
from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import error_text, structured
from tests.infra.easel_http import serving
from tests.infra.oauth_issuer import OAuthIssuer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerPort]:
    opened: LedgerPort
    if request.param == "sqlite":
        opened = Ledger.open(tmp_path / "ledger.sqlite3")
    else:
        from easel_mcp.storage.postgres_ledger import PostgresLedger

        opened = PostgresLedger.open(request.getfixturevalue("postgres_url"))
    yield opened
    opened.close()


def _reserve(ledger: LedgerPort, budgets: Budgets, user: str | None, usd: float = 0.3) -> None:
    ledger.begin(
        tool="generate_image",
        provider="openai",
        model="gpt-image-1.5",
        params={},
        estimated_usd=usd,
        reserve_usd=usd,
        budgets=budgets,
        user=user,
        now=NOW,
    )


def test_each_user_has_a_budget_of_their_own(ledger: LedgerPort) -> None:
    budgets = Budgets(daily_usd=1.0, user_daily_usd=0.5)
    _reserve(ledger, budgets, "alice")
    with pytest.raises(BudgetExceeded, match=r"your daily budget \(EASEL_USER_DAILY_BUDGET_USD=\$0.50\) has \$0.20"):
        _reserve(ledger, budgets, "alice")
    _reserve(ledger, budgets, "bob")  # bob's own budget is untouched
    with pytest.raises(BudgetExceeded, match=r"the daily budget \(EASEL_DAILY_BUDGET_USD=\$1.00\) has \$0.40"):
        _reserve(ledger, budgets, "carol", usd=0.45)  # everyone's budget still binds
    assert ledger.budget_left(budgets, now=NOW, user="alice")["today"] == pytest.approx(0.2)
    assert ledger.budget_left(budgets, now=NOW, user="dave")["today"] == pytest.approx(0.4)  # the tighter one
    assert ledger.budget_left(budgets, now=NOW)["today"] == pytest.approx(0.4)
    assert [r["user_id"] for r in ledger.rows()] == ["alice", "bob"]
    report = ledger.report(since=NOW - timedelta(hours=1), by="user")
    assert [(g["key"], g["calls"]) for g in report["groups"]] == [("alice", 1), ("bob", 1)]


def test_without_a_user_the_user_limits_do_not_apply(ledger: LedgerPort) -> None:
    budgets = Budgets(user_daily_usd=0.5)  # only per-user limits: a call without a user (stdio) is not limited
    for _ in range(3):
        _reserve(ledger, budgets, None)
    assert ledger.report(since=None, by="user")["groups"][0]["key"] == "-"


@pytest.fixture
def oauth_server(workspace_dir: Path, oauth_issuer: OAuthIssuer) -> Iterator[tuple[str, Callable[[str], str], Ledger]]:
    with FakeOpenAIImages() as fake:

        def settings(url: str) -> Settings:
            return Settings(
                workspace=workspace_dir,
                openai_api_key="sk-test",
                openai_base_url=fake.base_url,
                oauth_issuer=oauth_issuer.issuer,
                public_url=url,
                user_daily_budget_usd=0.2,
            )  # type: ignore[call-arg]

        with serving(settings) as (url, easel):
            ledger = easel.studio.ledger
            assert isinstance(ledger, Ledger)
            yield url, lambda subject: oauth_issuer.token(subject, audience=url), ledger


@pytest.mark.anyio
async def test_the_token_subject_is_the_user_of_every_row(
    oauth_server: tuple[str, Callable[[str], str], Ledger],
) -> None:
    url, token, ledger = oauth_server
    args = {"prompt": "a kite", "quality": "high", "size": "square"}  # $0.133: one fits a $0.20 day, two do not

    async def call(subject: str) -> object:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token(subject)}"}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                return await client.call_tool("generate_image", args)

    structured(await call("alice"))  # type: ignore[arg-type]
    refused = error_text(await call("alice"))  # type: ignore[arg-type]
    assert "your daily budget (EASEL_USER_DAILY_BUDGET_USD=$0.20)" in refused
    structured(await call("bob"))  # type: ignore[arg-type]
    assert [r["user_id"] for r in ledger.rows()] == ["alice", "bob"]
