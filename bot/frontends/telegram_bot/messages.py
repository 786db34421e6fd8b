"""Every text the Telegram front end sends, as Telegram HTML within Telegram's lengths.

Texts from members and Wiro (prompts, names, failure reasons) go through `text.escape`; the
sizes come from /work/shared/specs/telegram-facts.md: a message 4096 and a caption 1024
characters after entity parsing (see `text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.catalog import Catalog
from bot.core.jobs.runner import Phase, step_of
from bot.core.policy.model import EffectivePolicy
from bot.core.request.options import PortraitOptions
from bot.core.result.summary import Summary
from bot.core.wiro import TaskProgress

from .command import KNOWN_FLAGS
from .text import CAPTION_LIMIT, MESSAGE_LIMIT, Cut, Part, Tag, fit_html, utf16_len, visible

BOLD, BOLD_ = Tag("<b>"), Tag("</b>")
ITALIC, ITALIC_ = Tag("<i>"), Tag("</i>")
CODE, CODE_ = Tag("<code>"), Tag("</code>")
PRE, PRE_ = Tag("<pre>"), Tag("</pre>")

HISTORY_LENGTH = 10
_LONG_TEXTS = ("prompt", "negative_prompt")


# ------------------------------------------------------------------ the result


def result_caption(summary: Summary, member_name: str | None = None) -> str:
    """The portrait's caption: who it is for, the prompt and the settings, within 1024.
    The prompt and long values shrink first, so every setting's name stays visible."""
    parts: list[Part] = [BOLD, "Portrait"]
    if member_name:
        parts += [" for ", Cut(member_name)]
    parts += [BOLD_, "\n", ITALIC, Cut(summary.prompt or "(the default prompt)"), ITALIC_]
    for label, value in summary.fields:
        parts += ["\n", f"{label}: ", Cut(value)]
    return fit_html(parts, CAPTION_LIMIT)


@dataclass(frozen=True)
class Details:
    """The Details answer: ``html`` to send as a message, and when everything does not fit
    in one message, ``document`` (UTF-8 text) to send as ``filename`` with it."""

    html: str
    document: bytes | None = None
    filename: str | None = None


def details(options: PortraitOptions, job_id: int, catalog: Catalog) -> Details:
    """Every setting of a portrait and the `/portrait` caption that makes it again; as a
    ``details-<job>.txt`` document when the message could not show it all exactly (over 4096,
    or invisible characters the message leaves out)."""
    params = {name: value for name, value in options.to_params().items() if value is not None}
    settings = "\n".join(f"{name}: {value}" for name, value in params.items())
    # In the message the prompts appear once, in the caption line.
    short = "\n".join(f"{n}: {v}" for n, v in params.items() if n not in _LONG_TEXTS)
    line = portrait_line(options, catalog)
    head: list[Part] = [BOLD, f"The exact settings of portrait #{job_id}", BOLD_, "\n"]
    body: list[Part] = [PRE, short, PRE_, "\nTo make it again, send the same selfie with:\n"]
    body += [CODE, line, CODE_]
    fits = sum(utf16_len(p) for p in head + body if isinstance(p, str)) <= MESSAGE_LIMIT
    if fits and visible(settings) == settings and visible(line) == line:
        return Details(fit_html(head + body))
    filename = f"details-{job_id}.txt"
    exact = f"Settings of portrait #{job_id}\n\n{settings}\n\nTo make it again:\n{line}\n"
    note: list[Part] = ["They are too long for one message: see ", CODE, filename, CODE_, "."]
    return Details(fit_html(head + note), exact.encode(), filename)


def portrait_line(options: PortraitOptions, catalog: Catalog) -> str:
    """A `/portrait` caption that reproduces ``options`` (models and LoRAs by id)."""
    words = ["/portrait"]
    if options.prompt.strip():
        words.append(_quoted(options.prompt) if _needs_quotes(options.prompt) else options.prompt)
    pairs: list[tuple[str, object]] = [("--model", options.model_id)]
    if options.lora_id:
        pairs.append(("--lora", options.lora_id))
    if options.lora_scale is not None:
        pairs.append(("--lora-scale", f"{options.lora_scale:g}"))
    pairs += [
        ("--negative", options.negative_prompt),
        ("--steps", options.steps),
        ("--guidance", f"{options.guidance:g}"),
        ("--likeness", f"{options.likeness:g}"),
        ("--samples", options.samples),
        ("--seed", options.seed),
        ("--scheduler", options.scheduler),
    ]
    for flag, value in pairs:
        text = str(value)
        words.append(f"{flag} {_quoted(text) if _needs_quotes(text, value=True) else text}")
    return " ".join(words)


def _needs_quotes(text: str, *, value: bool = False) -> bool:
    return (value and (not text or any(c.isspace() for c in text))) or any(
        word.startswith(("--", "—", "–", '"', "“")) for word in text.split()
    )


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


# ------------------------------------------------------------------ waiting


def status_text(
    phase: Phase,
    *,
    position: int | None = None,
    progress: TaskProgress | None = None,
    starts_in: float | None = None,
    member_name: str | None = None,
) -> str:
    """The status message: stage, queue position ("2 ahead of you"), Wiro's progress bar
    with the time left, or "starts in N s" while the member's cooldown runs. No ticking clock:
    the text changes only when something happens, which keeps edits few (20 a minute per
    group is Telegram's limit)."""
    done, steps, label = step_of(phase)
    parts: list[Part] = ["🎨 Making a portrait"]
    if member_name:
        parts += [" for ", Cut(member_name)]
    parts += [
        "\n",
        "▰" * done + "▱" * (steps - done),
        " ",
        BOLD,
        label,
        "…",
        BOLD_,
    ]
    if phase is Phase.WAITING and starts_in is not None and starts_in > 0:
        parts.append(f" Starts in {_seconds(starts_in)} (the pause between two portraits).")
    elif phase is Phase.WAITING and position is not None:
        parts.append(" You're next." if position <= 1 else f" {position - 1} ahead of you.")
    if phase is Phase.GENERATING and progress is not None and progress.percentage is not None:
        parts += ["\n", progress_bar(progress)]
    return fit_html(parts)


def progress_bar(progress: TaskProgress, width: int = 20) -> str:
    """``"████░░░… 42% · about 12 s left"`` from Wiro's socket progress."""
    percentage = min(100.0, max(0.0, progress.percentage or 0.0))
    filled = round(width * percentage / 100)
    line = f"{'█' * filled}{'░' * (width - filled)} {percentage:.0f}%"
    if progress.remaining_seconds is not None and percentage < 100:
        line += f" · about {_seconds(progress.remaining_seconds)} left"
    return line


def _seconds(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


# ------------------------------------------------------------------ commands


def help_text(bot_username: str) -> str:
    """/start and /help: how to ask, with an example, and the other commands."""
    mention = f"@{bot_username}"
    example = "/portrait astronaut on the moon, cinematic --model DreamShaper-XL --seed 42"
    return fit_html(
        [
            BOLD, "I turn your selfie into a portrait.", BOLD_, "\n\n",
            "Send a photo of your face with a caption like:\n", CODE, example, CODE_, "\n",
            "or answer a photo with ", CODE, "/portrait …", CODE_, ". In a private chat a photo "
            "without a caption gets a portrait with the default settings. In groups, write ",
            CODE, f"/portrait{mention}", CODE_, " if another bot also has /portrait.\n\n",
            "Options: ", ", ".join(KNOWN_FLAGS), ". Put values with spaces in \"quotes\".\n\n",
            "Save your face once: send a photo with ", CODE, "/face save me", CODE_,
            " as its caption. Then /portrait without a photo uses it (or ", CODE,
            "--face name", CODE_, " picks another). /faces lists your faces (make one the "
            "default, delete one); rename with ", CODE, "/face rename me to \"me at work\"",
            CODE_, ".\n\n",
            "/styles lists the models and LoRAs, /history shows your last portraits, "
            "/cancel stops your portrait in progress. /privacy says what the bot keeps about "
            "you; /forgetme deletes it. A chat's administrators (and you, in your "
            "private chat) have /settings, /stats and /log.",
        ]
    )  # fmt: skip


def styles_pages(
    catalog: Catalog, limit: int = MESSAGE_LIMIT, *, offered: EffectivePolicy | None = None
) -> list[str]:
    """/styles: the models and LoRAs by readable name, as many messages as needed; only those
    the chat's policy ``offered`` offers, when given."""
    models = [m for m in catalog.models if offered is None or offered.offers_model(m.id)]
    loras = [lo for lo in catalog.loras if offered is None or offered.offers_lora(lo.id)]
    lines: list[list[Part]] = [[BOLD, "Models", BOLD_, " (--model)"]]
    lines += [["• ", style.readable_name] for style in models]
    lines += [[""], [BOLD, "LoRAs", BOLD_, " (--lora)"]]
    lines += [["• ", style.readable_name] for style in loras]
    pages: list[list[Part]] = [[]]
    used = 0
    for line in lines:
        size = sum(utf16_len(p) for p in line if isinstance(p, str)) + 1
        if used + size > limit and pages[-1]:
            pages.append([])
            used = 0
        pages[-1] += [*line, "\n"]
        used += size
    return [fit_html(page, limit) for page in pages]


@dataclass(frozen=True)
class HistoryEntry:
    """One line of /history, as plain data (the core maps its ledger rows to it)."""

    job_id: int
    state: str  # "delivered", "failed", ... shown after an emoji
    created_at: datetime
    prompt: str
    style: str  # the model's readable name
    seed: int | None = None
    note: str | None = None  # a failure's member-facing reason


_STATE_EMOJI = {"delivered": "✅", "failed": "❌", "cancelled": "🚫", "running": "🎨"}


def history_text(entries: Sequence[HistoryEntry]) -> str:
    """/history: the member's last 10 portraits, newest first as given, within 4096."""
    if not entries:
        return "You haven't asked for a portrait yet. Send a selfie with /portrait as its caption!"
    parts: list[Part] = [BOLD, "Your recent portraits", BOLD_]
    for entry in entries[:HISTORY_LENGTH]:
        emoji = _STATE_EMOJI.get(entry.state, "⏳")
        parts += ["\n\n", BOLD, f"#{entry.job_id}", BOLD_, f" · {emoji} {entry.state} · "]
        parts += [entry.created_at.strftime("%Y-%m-%d %H:%M UTC"), "\n", Cut(entry.style)]
        if entry.seed is not None:
            parts.append(f" · seed {entry.seed}")
        parts += ["\n", ITALIC, Cut(" ".join(entry.prompt.split()) or "(default prompt)"), ITALIC_]
        if entry.note:
            parts += ["\n", Cut(entry.note)]
    return fit_html(parts)


# ------------------------------------------------------------------ refusals


def refusal(message: str) -> str:
    """A refusal or failure the core worded for members (``OptionError.message``,
    ``SelfieRejected.message``, ``PortraitFailed.message``), escaped, within 4096."""
    return fit_html(["⚠️ ", Cut(message)])


def not_yours(action: str) -> str:
    """The alert for another member pressing a button (answerCallbackQuery: 200 at most)."""
    return f"Only the member who asked can {action}."[:200]


def ask_new_prompt(current_prompt: str) -> str:
    """Edit prompt: the question sent with a forced reply (``ForceReply``); the member's reply
    is the new prompt (flags allowed, as in a `/portrait` caption)."""
    return fit_html(
        [
            "✏️ Reply to this message with the new prompt. The current one is:\n",
            CODE,
            Cut(current_prompt or "(the default prompt)"),
            CODE_,
        ]
    )
