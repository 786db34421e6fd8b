"""The Telegram front end (aiogram 3): building blocks that turn Telegram updates into core
calls and core results into Telegram messages. Rules quoted from
/work/shared/specs/telegram-facts.md (the Bot API manual and FAQ)."""
