"""Request bodies (JSON or multipart with ``payload_json`` + ``files[n]``) and the
message create/edit semantics shared by channel, callback and webhook routes."""

from __future__ import annotations

import io
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from .payloads import iso_now
from .records import LOADING, EditRecord, StoredAttachment, StoredMessage

if TYPE_CHECKING:
    from .server import DiscordStandIn

FILE_FIELD = re.compile(r"^files\[(\d+)\]$|^file(\d*)$")
KEEP_FLAGS_ON_EDIT = (1 << 6) | (1 << 15)  # ephemeral and components-v2 cannot be toggled
EDITABLE_FLAGS = 1 << 2  # SUPPRESS_EMBEDS


@dataclass
class UploadedFile:
    field: str
    index: int
    filename: str
    content_type: str | None
    data: bytes


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or ``payload_json`` + files from a multipart body."""
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        position = 0
        while True:
            part = await reader.next()
            if part is None:
                break
            name = getattr(part, "name", None) or ""
            data = await part.read()  # type: ignore[union-attr]
            if name == "payload_json":
                payload = json.loads(data or b"null")
                continue
            match = FILE_FIELD.match(name)
            filename = getattr(part, "filename", None)
            if match or filename:
                index = int(match.group(1) or match.group(2) or position) if match else position
                ctype = part.headers.get("Content-Type")  # type: ignore[union-attr]
                files.append(UploadedFile(name, index, filename or name, ctype, bytes(data)))
                position += 1
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return None, []


def guess_content_type(filename: str, declared: str | None) -> str | None:
    lower = filename.lower()
    for ext, ctype in (
        (".png", "image/png"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".webp", "image/webp"),
        (".gif", "image/gif"),
        (".txt", "text/plain"),
        (".json", "application/json"),
    ):
        if lower.endswith(ext):
            return ctype
    if declared and declared != "application/octet-stream":
        return declared
    return declared


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.width, img.height
    except Exception:
        return None, None


def make_attachment(
    server: DiscordStandIn,
    *,
    scope: str,
    channel_id: int,
    filename: str,
    data: bytes,
    content_type: str | None,
    description: str | None = None,
    ephemeral: bool = False,
) -> StoredAttachment:
    """Store a file and serve it at ``{base_url}/{scope}/{channel_id}/{id}/{filename}``."""
    att_id = server.new_id()
    ctype = guess_content_type(filename, content_type)
    width = height = None
    if ctype and ctype.startswith("image/"):
        width, height = _image_size(data)
    path = f"/{scope}/{channel_id}/{att_id}/{filename}"
    ex = int(time.time()) + 86400
    signature = f"?ex={ex:x}&is={int(time.time()):x}&hm={secrets.token_hex(32)}&"
    url_path = f"/{scope}/{channel_id}/{att_id}/{quote(filename)}"
    att = StoredAttachment(
        id=att_id,
        filename=filename,
        data=data,
        content_type=ctype,
        url=f"{server.base_url}{url_path}{signature}",
        proxy_url=f"{server.base_url}/media{url_path}{signature}",
        description=description,
        width=width,
        height=height,
        ephemeral=ephemeral,
    )
    server.cdn[path] = att
    if server.save_dir is not None:
        target = server.save_dir / f"{att_id}_{filename}"
        target.write_bytes(data)
        att.path = target
    return att


def _new_attachments(
    server: DiscordStandIn,
    channel_id: int,
    entries: list[dict[str, Any]] | None,
    files: list[UploadedFile],
    ephemeral: bool,
) -> tuple[list[StoredAttachment], set[int]]:
    """Attachments for uploaded files, honouring ``attachments[].id == files[n]`` metadata.
    Returns the new attachments and the ids of existing attachments to keep."""
    by_index = {f.index: f for f in files}
    meta: dict[int, dict[str, Any]] = {}
    keep: set[int] = set()
    for entry in entries or []:
        try:
            ref = int(entry.get("id"))
        except (TypeError, ValueError):
            continue
        if ref in by_index:
            meta[ref] = entry
        else:
            keep.add(ref)
    out = []
    for f in files:
        entry = meta.get(f.index, {})
        out.append(
            make_attachment(
                server,
                scope="attachments",
                channel_id=channel_id,
                filename=entry.get("filename") or f.filename,
                data=f.data,
                content_type=f.content_type,
                description=entry.get("description"),
                ephemeral=ephemeral,
            )
        )
    return out, keep


def _embeds(embeds: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{"type": "rich", **e} for e in embeds or []]


def create_message(
    server: DiscordStandIn,
    *,
    channel_id: int,
    guild_id: int | None,
    payload: dict[str, Any],
    files: list[UploadedFile],
    author_id: int,
    msg_type: int = 0,
    extra_flags: int = 0,
    **fields: Any,
) -> StoredMessage:
    flags = int(payload.get("flags") or 0) | extra_flags
    attachments, _ = _new_attachments(
        server, channel_id, payload.get("attachments"), files, bool(flags & 64)
    )
    msg = StoredMessage(
        id=server.new_id(),
        channel_id=channel_id,
        guild_id=guild_id,
        author_id=author_id,
        content=payload.get("content") or "",
        embeds=_embeds(payload.get("embeds")),
        components=payload.get("components") or [],
        attachments=attachments,
        flags=flags,
        type=msg_type,
        tts=bool(payload.get("tts")),
        timestamp=iso_now(),
        allowed_mentions=payload.get("allowed_mentions"),
        message_reference=payload.get("message_reference"),
        **fields,
    )
    server.messages[msg.id] = msg
    server.notifier.notify()
    return msg


def edit_message(
    server: DiscordStandIn,
    msg: StoredMessage,
    payload: dict[str, Any] | None,
    files: list[UploadedFile],
    via: str,
) -> EditRecord:
    payload = payload or {}
    changes: dict[str, Any] = {}
    if "content" in payload:
        msg.content = payload["content"] or ""
        changes["content"] = msg.content
    if "embeds" in payload:
        msg.embeds = _embeds(payload["embeds"])
        changes["embeds"] = msg.embeds
    if "components" in payload:
        msg.components = payload["components"] or []
        changes["components"] = msg.components
    if "flags" in payload and payload["flags"] is not None:
        msg.flags = (msg.flags & KEEP_FLAGS_ON_EDIT) | (int(payload["flags"]) & EDITABLE_FLAGS)
        changes["flags"] = msg.flags
    if "allowed_mentions" in payload:
        msg.allowed_mentions = payload["allowed_mentions"]
    if "attachments" in payload or files:
        new, keep = _new_attachments(
            server, msg.channel_id, payload.get("attachments"), files, msg.ephemeral
        )
        if "attachments" in payload:
            kept = [a for a in msg.attachments if a.id in keep]
        else:
            kept = list(msg.attachments)
        msg.attachments = kept + new
        changes["attachments"] = [a.filename for a in msg.attachments]
    if msg.flags & LOADING:
        msg.flags &= ~LOADING
        changes["loading"] = False
    msg.edited_timestamp = iso_now()
    record = EditRecord(at=time.monotonic(), changes=changes, via=via)
    msg.edits.append(record)
    server.notifier.notify()
    return record
