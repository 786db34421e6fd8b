"""The safety gate's word list: sexual and violent prompts are caught (also in leetspeak,
spaced out or in capitals), harmless prompts that contain such letters are not (no
Scunthorpe problem), and a server's own additions count."""

from __future__ import annotations

import pytest

from bot.core.policy.safety import NOT_SCREENED, OWN_WORDS, screen_prompt


@pytest.mark.parametrize(
    ("prompt", "word"),
    [
        ("a nude portrait on the beach", "nude"),
        ("NUDE, 8k", "nude"),
        ("p0rn star look", "porn"),
        ("n.u.d.e", "nude"),
        ("topless in the rain", "topless"),
        ("naked", "naked"),
        ("nsfw, masterpiece", "nsfw"),
        ("wearing lingerie", "lingerie"),
        ("a s3xy pose", "sexy"),
        ("gory horror scene", "gory"),
        ("a decapitated knight", "decapitated"),
        ("covered in blood", "covered in blood"),
        ("Covered  in\nBLOOD", "covered in blood"),
        ("torture chamber", "torture"),
        ("a bloodbath on the battlefield", "bloodbath"),
    ],
)
def test_sexual_and_violent_prompts_are_caught(prompt, word):
    assert screen_prompt(prompt) == word


@pytest.mark.parametrize(
    "prompt",
    [
        "a classic oil portrait of a knight",
        "assassin's creed hero in a hood",
        "the mayor of Scunthorpe",
        "holding a cocktail in Essex",
        "a great tit on a branch",
        "cum laude graduate in a gown",
        "a girl on a horse",
        "a big black dog beside her",
        "world domination villain",
        "hardcore punk singer",
        "a samurai with a sword, epic battle",
        "vampire queen under a blood moon",
        "a killer whale in the background",
        "Day of the Dead make-up",
        "a murder of crows",
        "Bloody Mary cocktail",
        "Suicide Squad cosplay",
        "explicit detail, 8k, 85mm lens, f/1.8",
        # Numbers are not leetspeak (a seed, a year, a count): 455 would read "ass".
        "portrait number 455, 1985 style, 1,000 roses, 80085 stars",
        "breastplate armour, therapist office, grape harvest",
        "",
        "   ",
    ],
)
def test_harmless_prompts_pass(prompt):
    assert screen_prompt(prompt) is None


def test_a_servers_additions_are_screened_the_same_way():
    assert screen_prompt("a clown at the fair") is None
    assert screen_prompt("a clown at the fair", ["Clown"]) == "clown"
    assert screen_prompt("a CL0WN", ["clown"]) == "clown"  # leetspeak and case too
    assert screen_prompt("a clownfish", ["clown"]) is None  # whole words only
    assert screen_prompt("a creepy  old   doll", ["old doll"]) == "old doll"


def test_a_server_can_screen_what_the_gate_leaves_out():
    assert "escort" in NOT_SCREENED
    assert screen_prompt("a royal escort") is None
    assert screen_prompt("a royal escort", ["escort"]) == "escort"


def test_blank_and_overlong_additions_are_ignored():
    assert screen_prompt("a clown", ["", "  ", "x" * 101]) is None


def test_the_packages_list_is_in_use_beside_our_own():
    assert screen_prompt("hentai style") == "hentai"  # only in the package's list
    assert "hentai" not in OWN_WORDS
    assert "naked" in OWN_WORDS  # the package lacks it
