"""Requests held back by the face check: kept for the member's "Use it anyway", once, for them
only, for a limited time, across a restart, and forgotten with the member."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.request.held import HOLD_TIME, HeldRequests, HoldGone, HoldNotYours
from bot.core.request.selfie_store import SelfieStore
from tests.support.insight import Clock
from tests.support.ledgers import OpenLedger

ALICE = "discord:111"
BOB = "discord:222"
PHOTO = b"\xff\xd8 prepared selfie \xff\xd9"
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
async def ledger(open_ledger: OpenLedger) -> SqlLedger:
    """The ledger on each database in turn (tests/support/ledgers.py)."""
    return await open_ledger()


def held_of(ledger: SqlLedger, tmp_path: Path, clock: Clock) -> HeldRequests:
    return HeldRequests(ledger, SelfieStore(tmp_path / "selfies"), clock=clock)


def selfie_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "selfies").glob("*"))


async def hold(held: HeldRequests, requester: str = ALICE) -> int:
    request = await held.hold(
        platform="discord",
        requester=requester,
        scope="discord:guild:5",
        params={"options": {"prompt": "a <b>knight</b>"}, "spoiler": True},
        prepared=PHOTO,
    )
    return request.id


async def test_taken_once_by_its_member_with_its_photo_and_choices(ledger, tmp_path) -> None:
    clock = Clock(START)
    held = held_of(ledger, tmp_path, clock)
    hold_id = await hold(held)
    assert len(selfie_files(tmp_path)) == 1
    assert selfie_files(tmp_path)[0].stat().st_mode & 0o077 == 0  # owner-only

    with pytest.raises(HoldNotYours):
        await held.take(hold_id, BOB)
    request, data = await held.take(hold_id, ALICE)  # still there after the stranger's press
    assert data == PHOTO
    assert request.params == {"options": {"prompt": "a <b>knight</b>"}, "spoiler": True}
    assert (request.platform, request.requester, request.scope) == (
        "discord",
        ALICE,
        "discord:guild:5",
    )
    assert request.expires_at == START + HOLD_TIME
    assert selfie_files(tmp_path) == []  # the photo left with the request
    with pytest.raises(HoldGone):
        await held.take(hold_id, ALICE)  # a second press queues nothing


async def test_expired_hold_is_gone_and_pruned_with_its_photo(ledger, tmp_path) -> None:
    clock = Clock(START)
    held = held_of(ledger, tmp_path, clock)
    late = await hold(held)
    clock.advance(minutes=10)
    fresh = await hold(held)
    clock.now = START + HOLD_TIME + timedelta(seconds=1)
    with pytest.raises(HoldGone):
        await held.take(late, ALICE)
    assert await held.prune() == 0  # `late` went with the press; `fresh` has 10 minutes left
    clock.advance(minutes=10)
    assert await held.prune() == 1
    assert selfie_files(tmp_path) == []
    with pytest.raises(HoldGone):
        await held.take(fresh, ALICE)


async def test_a_hold_survives_a_restart(tmp_path, open_ledger: OpenLedger) -> None:
    clock = Clock(START)
    async with await open_ledger() as ledger:
        hold_id = await hold(held_of(ledger, tmp_path, clock))
    async with await open_ledger() as ledger:
        _, data = await held_of(ledger, tmp_path, clock).take(hold_id, ALICE)
    assert data == PHOTO


async def test_forget_deletes_only_that_members_holds(ledger, tmp_path) -> None:
    held = held_of(ledger, tmp_path, Clock(START))
    alices = [await hold(held), await hold(held)]
    bobs = await hold(held, BOB)
    assert await held.forget(ALICE) == 2
    for hold_id in alices:
        with pytest.raises(HoldGone):
            await held.take(hold_id, ALICE)
    _, data = await held.take(bobs, BOB)
    assert data == PHOTO and selfie_files(tmp_path) == []


async def test_a_missing_photo_is_gone_not_a_crash(ledger, tmp_path) -> None:
    held = held_of(ledger, tmp_path, Clock(START))
    hold_id = await hold(held)
    selfie_files(tmp_path)[0].unlink()
    with pytest.raises(HoldGone):
        await held.take(hold_id, ALICE)
