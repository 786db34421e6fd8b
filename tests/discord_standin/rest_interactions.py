"""Interaction callbacks and the interaction webhook (follow-ups, @original, messages/{id}).

Discord semantics modelled here:
- one callback per interaction (second → 400 40060), only within ``ack_timeout`` of the
  dispatch (later → 404 10062), never for an expired token (404 10062);
- callback types valid for the interaction type (else 400 50035);
- ``?with_response=1`` → 200 + interaction callback response object, otherwise 204;
- webhook calls need an acknowledged, unexpired token (else 404 10015 / 401 50027);
- the first follow-up after a "thinking" defer replaces the loading message;
- for component interactions answered with 6/7, ``@original`` is the component's message.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import faults as errors
from . import payloads
from .messages import create_message, edit_message
from .records import EPHEMERAL, LOADING, CallbackRecord, InteractionRecord, StoredMessage
from .rest_channels import bad_message
from .validation import validate_choices, validate_message, validate_modal

if TYPE_CHECKING:
    from .rest import Ctx

PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
ALLOWED_CALLBACKS = {
    PING: {1},
    COMMAND: {4, 5, 9, 10, 12},
    COMPONENT: {4, 5, 6, 7, 9, 10, 12},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7, 10, 12},
}
TRUE_VALUES = ("1", "true", "True")


def _invalid(field: str, message: str) -> web.Response:
    return errors.invalid_form_body({field: {"_errors": [{"code": "INVALID", "message": message}]}})


def _metadata(server: Any, rec: InteractionRecord, **more: Any) -> dict[str, Any]:
    user = server.world.user(rec.user_id)
    meta: dict[str, Any] = {
        "id": str(rec.id),
        "type": rec.type,
        "user": payloads.user(user) if user else None,
        "authorizing_integration_owners": rec.payload.get("authorizing_integration_owners", {}),
    }
    if rec.type == COMMAND:
        meta["name"] = rec.name
        meta["command_type"] = 1
    meta.update({k: str(v) for k, v in more.items() if v is not None})
    return meta


def _response_message(
    ctx: Ctx, rec: InteractionRecord, data: dict[str, Any], *, loading: bool, followup: bool
) -> StoredMessage:
    server = ctx.server
    flags = LOADING if loading else 0
    extra: dict[str, Any] = {}
    if followup:
        meta = _metadata(
            server, rec, original_response_message_id=rec.original.id if rec.original else None
        )
    else:
        interacted = rec.source_message.id if rec.source_message else None
        meta = _metadata(server, rec, interacted_message_id=interacted)
    extra["interaction_metadata"] = meta
    if rec.type == COMMAND:
        extra["interaction"] = {
            "id": str(rec.id),
            "type": rec.type,
            "name": rec.name,
            "user": meta["user"],
        }
    if rec.guild_id:
        extra["guild_id"] = str(rec.guild_id)
    return create_message(
        server,
        channel_id=rec.channel_id or 0,
        guild_id=rec.guild_id,
        payload=data,
        files=ctx.files if not loading else [],
        author_id=server.world.bot_user.id,
        msg_type=20 if rec.type == COMMAND else (0 if followup else 19),
        extra_flags=flags,
        interaction_id=rec.id,
        is_interaction_response=True,
        is_original_response=not followup,
        webhook_id=server.application_id,
        extra=extra,
    )


def _callback_body(
    rec: InteractionRecord, cb_type: int, msg: StoredMessage | None, world: Any
) -> dict[str, Any]:
    interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
    body: dict[str, Any] = {"interaction": interaction}
    if msg is not None and cb_type in (4, 5, 7):
        interaction["response_message_id"] = str(msg.id)
        interaction["response_message_loading"] = bool(msg.flags & LOADING)
        interaction["response_message_ephemeral"] = bool(msg.flags & EPHEMERAL)
        body["resource"] = {"type": cb_type, "message": payloads.message(msg, world)}
    elif cb_type in (9, 12):
        body["resource"] = {"type": cb_type}
    return body


async def callback(ctx: Ctx) -> web.Response:
    server = ctx.server
    now = time.monotonic()
    body = ctx.body if isinstance(ctx.body, dict) else {}
    cb_type = body.get("type")
    with_response = ctx.request.query.get("with_response") in TRUE_VALUES
    rec = server.interactions.get(
        int(ctx.params["interaction_id"]) if ctx.params["interaction_id"].isdigit() else -1
    )
    if rec is None or rec.token != ctx.params["token"]:
        return errors.unknown_interaction()

    def reject(response: web.Response, code: int | None) -> web.Response:
        rec.callbacks.append(
            CallbackRecord(
                now, cb_type or 0, body.get("data"), response.status, code, with_response
            )
        )
        rec.log("callback_rejected", (cb_type, response.status, code))
        return response

    if rec.expired or now - rec.sent_at > server.token_ttl:
        return reject(errors.unknown_interaction(), 10062)
    if rec.acknowledged:
        return reject(errors.already_acknowledged(), 40060)
    if now - rec.sent_at > server.ack_timeout:
        return reject(errors.unknown_interaction(), 10062)
    if cb_type not in ALLOWED_CALLBACKS.get(rec.type, set()):
        return reject(_invalid("type", f"callback type {cb_type} invalid here"), 50035)
    if cb_type in (6, 7) and rec.source_message is None:
        return reject(_invalid("type", "no message to update"), 50035)
    data = body.get("data") or {}

    msg: StoredMessage | None = None
    if cb_type == 4:
        errs = validate_message(data, creating=True, n_files=len(ctx.files))
        if errs:
            return reject(bad_message(errs), 50035)
        msg = _response_message(ctx, rec, data, loading=False, followup=False)
        rec.original = msg
    elif cb_type == 5:
        msg = _response_message(
            ctx, rec, {"flags": data.get("flags") or 0}, loading=True, followup=False
        )
        rec.original = msg
    elif cb_type in (6, 7):
        msg = rec.source_message
        assert msg is not None
        if msg.deleted:
            return reject(errors.unknown_message(), 10008)
        if cb_type == 7:
            errs = validate_message(data, creating=False, n_files=len(ctx.files))
            if errs:
                return reject(bad_message(errs), 50035)
            edit_message(server, msg, data, ctx.files, via="callback")
        rec.original = msg
    elif cb_type == 8:
        choices = data.get("choices")
        errs = validate_choices(choices)
        if errs:
            return reject(bad_message({"data": {"choices": errs}}), 50035)
        rec.choices = choices
    elif cb_type == 9:
        comps = data.get("components") or []
        if not data.get("custom_id") or not data.get("title") or not 1 <= len(comps) <= 5:
            return reject(_invalid("data", "modal needs custom_id, title, 1-5 components"), 50035)
        errs = validate_modal(data)
        if errs:
            return reject(bad_message({"data": errs}), 50035)
        rec.modal = data

    rec.ack_at = now
    rec.callback_type = cb_type
    rec.callbacks.append(
        CallbackRecord(now, cb_type, data, 200 if with_response else 204, None, with_response)
    )
    rec.log("callback", cb_type)
    if msg is not None and cb_type in (4, 5):
        await server.dispatch_message_event("MESSAGE_CREATE", msg)
    elif msg is not None and cb_type == 7:
        await server.dispatch_message_event("MESSAGE_UPDATE", msg)
    if not with_response:
        return web.Response(status=204)
    return errors.json_response(_callback_body(rec, cb_type, msg, server.world))


def _webhook_interaction(ctx: Ctx) -> tuple[InteractionRecord | None, web.Response | None]:
    server = ctx.server
    if ctx.params["webhook_id"] != str(server.application_id):
        return None, errors.unknown_webhook()
    rec = server.interaction_by_token(ctx.params["token"])
    if rec is None:
        return None, errors.invalid_webhook_token()
    if rec.expired or time.monotonic() - rec.sent_at > server.token_ttl:
        return None, errors.invalid_webhook_token()
    if not rec.acknowledged:
        return None, errors.unknown_webhook()
    return rec, None


def _target(ctx: Ctx, rec: InteractionRecord) -> StoredMessage | None:
    ref = ctx.params["message_id"]
    if ref == "@original":
        msg = rec.original
    else:
        msg = next((m for m in rec.messages if str(m.id) == ref), None)
    if msg is None or msg.deleted:
        return None
    return msg


async def followup(ctx: Ctx) -> web.Response:
    server = ctx.server
    rec, err = _webhook_interaction(ctx)
    if err:
        return err
    assert rec is not None
    data = ctx.body if isinstance(ctx.body, dict) else {}
    errs = validate_message(data, creating=True, n_files=len(ctx.files))
    if errs:
        return bad_message(errs)
    original = rec.original
    if rec.callback_type == 5 and original is not None and original.loading:
        # Discord turns the first follow-up after a "thinking" defer into the original.
        edit_message(server, original, data, ctx.files, via="webhook")
        msg = original
        await server.dispatch_message_event("MESSAGE_UPDATE", msg)
    else:
        msg = _response_message(ctx, rec, data, loading=False, followup=True)
        await server.dispatch_message_event("MESSAGE_CREATE", msg)
    rec.followups.append(msg)
    rec.log("followup", msg.id)
    if ctx.request.query.get("wait") not in TRUE_VALUES:
        return web.Response(status=204)
    return errors.json_response(payloads.message(msg, server.world))


async def get_webhook_message(ctx: Ctx) -> web.Response:
    rec, err = _webhook_interaction(ctx)
    if err:
        return err
    assert rec is not None
    msg = _target(ctx, rec)
    if msg is None:
        return errors.unknown_message()
    return errors.json_response(payloads.message(msg, ctx.server.world))


async def edit_webhook_message(ctx: Ctx) -> web.Response:
    server = ctx.server
    rec, err = _webhook_interaction(ctx)
    if err:
        return err
    assert rec is not None
    msg = _target(ctx, rec)
    if msg is None:
        return errors.unknown_message()
    data = ctx.body if isinstance(ctx.body, dict) else {}
    errs = validate_message(data, creating=False, n_files=len(ctx.files))
    if errs:
        return bad_message(errs)
    edit_message(server, msg, data, ctx.files, via="webhook")
    rec.log("edit", msg.id)
    await server.dispatch_message_event("MESSAGE_UPDATE", msg)
    return errors.json_response(payloads.message(msg, server.world))


async def delete_webhook_message(ctx: Ctx) -> web.Response:
    rec, err = _webhook_interaction(ctx)
    if err:
        return err
    assert rec is not None
    msg = _target(ctx, rec)
    if msg is None:
        return errors.unknown_message()
    await ctx.server.mark_deleted(msg, by="bot")
    rec.log("delete", msg.id)
    return web.Response(status=204)


def routes(route: Any) -> list[Any]:
    """Route definitions, built with ``rest._route``."""
    hook = "/webhooks/{webhook_id}/{token}"
    return [
        route("POST", "/interactions/{interaction_id}/{token}/callback", callback, False),
        route("POST", hook, followup, False),
        route("GET", hook + "/messages/{message_id}", get_webhook_message, False),
        route("PATCH", hook + "/messages/{message_id}", edit_webhook_message, False),
        route("DELETE", hook + "/messages/{message_id}", delete_webhook_message, False),
    ]
