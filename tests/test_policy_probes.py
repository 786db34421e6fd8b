"""Probes of issue 12's owner controls as a mischievous member would try them (QA pass):
each test pins a bypass that was found and closed, or a rule that held."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from aiogram.types import CallbackQuery, Chat, Message, User

from bot.core.policy.safety import screen_prompt
from bot.frontends.telegram_bot.gate import anonymous_admin
from bot.frontends.telegram_bot.presses import address_of_press

GROUP_ID = -100123


def _press_without_message() -> CallbackQuery:
    # Telegram leaves `message` out of a press on a message it no longer gives the bot (an
    # inline message); the chat is then the job's.
    return CallbackQuery(
        id="1",
        from_user=User(id=42, is_bot=False, first_name="Mallory"),
        chat_instance="c",
        data="portrait:reroll:1",
        message=None,
    )


def test_a_press_without_its_message_keeps_the_jobs_chat_type():
    job = SimpleNamespace(
        reply_address={"user_id": 42, "chat_id": GROUP_ID, "chat_type": "supergroup"}
    )
    address = address_of_press(job, _press_without_message())  # type: ignore[arg-type]
    assert address.chat_id == GROUP_ID
    # Not "private": a private chat makes the member its administrator (admins-only and
    # private styles for admins pass) and drops the group's shared daily quota.
    assert not address.is_private
    assert address.chat_type == "supergroup"
    assert address.requester.quota_scope == f"telegram:chat:{GROUP_ID}"


def test_a_stored_group_address_without_its_type_is_not_a_private_chat():
    job = SimpleNamespace(reply_address={"user_id": 42, "chat_id": GROUP_ID})
    address = address_of_press(job, _press_without_message())  # type: ignore[arg-type]
    assert not address.is_private
    private = SimpleNamespace(reply_address={"user_id": 42, "chat_id": 42})
    assert address_of_press(private, _press_without_message()).is_private  # type: ignore[arg-type]


def _group_message(**fields) -> Message:
    group = Chat(id=GROUP_ID, type="supergroup", title="G")
    return Message(message_id=1, date=datetime(2026, 1, 1), chat=group, text="/settings", **fields)


def test_an_anonymous_administrator_is_known_by_the_group_as_sender():
    # Telegram's placeholder for anonymous administrators, which getChatMember doesn't know.
    placeholder = User(id=1087968824, is_bot=True, first_name="Group", username="GroupAnonymousBot")
    group = Chat(id=GROUP_ID, type="supergroup", title="G")
    assert anonymous_admin(_group_message(from_user=placeholder, sender_chat=group))
    # A channel posting in the group, or a plain member, is not.
    channel = Chat(id=-100999, type="channel", title="C")
    assert not anonymous_admin(_group_message(from_user=placeholder, sender_chat=channel))
    member = User(id=42, is_bot=False, first_name="Mallory")
    assert not anonymous_admin(_group_message(from_user=member))


@pytest.mark.parametrize(
    "prompt",
    [
        "a na\u0301ked man",  # combining accent (the package folds these)
        "nak\u0454d",  # Cyrillic Ukrainian ie
        "nake\u0501",  # Cyrillic komi de
        "\u0261ore",  # Latin script g
        "\u0260ore",  # g with hook
        "n\u0251ked",  # Latin alpha
        "\u0272aked",  # n with left hook
        "go\u2800re",  # braille blank inside the word
    ],
)
def test_lookalike_letters_do_not_slip_past_the_safety_gate(prompt):
    assert screen_prompt(prompt) in ("naked", "gore")


@pytest.mark.parametrize("prompt", ["Łódź at dawn, oil painting", "a fjord in Ålesund", "Đà Nẵng"])
def test_folding_lookalikes_keeps_harmless_prompts(prompt):
    assert screen_prompt(prompt) is None


def test_a_servers_own_words_are_folded_like_the_prompt():
    assert screen_prompt("a gigolo", ["\u0261igolo"]) == "gigolo"
    assert screen_prompt("a \u0261igolo", ["gigolo"]) == "gigolo"
