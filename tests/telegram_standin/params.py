"""Method parameters from any of the four encodings Telegram accepts: query string,
``application/x-www-form-urlencoded``, ``application/json`` and ``multipart/form-data``
(core.telegram.org/bots/api#making-requests). In form encodings nested objects
(``reply_markup``, ``media``, ``reply_parameters``) arrive JSON-encoded, as aiogram sends them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from .errors import bad_request
from .records import SavedFile


@dataclass
class Params:
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, SavedFile] = field(default_factory=dict)  # multipart parts by field

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None or value == "":
            raise bad_request(f'parameter "{name}" is required')
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be a valid Number') from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str) -> Any:
        """A nested object: JSON-decoded when it came as a string in a form."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def public(self) -> dict[str, Any]:
        """Values with nested objects decoded (for records)."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if isinstance(value, str) and value[:1] in "[{":
                try:
                    out[key] = json.loads(value)
                    continue
                except ValueError:
                    pass
            out[key] = value
        return out


async def read_params(request: web.Request) -> Params:
    """Query string first, then the body (body values win, as in the Bot API server)."""
    params = Params(values=dict(request.query))
    ctype = request.content_type
    if request.method not in ("POST", "PUT") or not request.can_read_body:
        return params
    if ctype == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON body: an Object expected")
        params.values.update(body)
    elif ctype == "application/x-www-form-urlencoded":
        params.values.update((k, str(v)) for k, v in (await request.post()).items())
    elif ctype.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            data = await part.read(decode=True)
            if part.filename is not None:
                params.files[part.name] = SavedFile(
                    part.name, part.filename, bytes(data), part.headers.get("Content-Type")
                )
            else:
                params.values[part.name] = data.decode("utf-8", "replace")
    return params
