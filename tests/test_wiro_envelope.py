"""Response envelope → typed errors (fact sheet §6), as pure functions."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.core.wiro import (
    WiroAuthError,
    WiroConcurrencyLimit,
    WiroConnectionError,
    WiroError,
    WiroInsufficientBalance,
    WiroNotFound,
    WiroRateLimited,
    WiroServerError,
    WiroValidationError,
)
from bot.core.wiro.envelope import error_from_message, parse_response, parse_retry_after


def body(**payload: object) -> bytes:
    return json.dumps(payload).encode()


def failing(*errors: object) -> bytes:
    return body(result=False, errors=list(errors))


def parse(status: int, raw: bytes, headers: dict[str, str] | None = None) -> dict:
    return parse_response(status, raw, headers or {}, what="POST /Test")


def test_a_successful_envelope_is_returned_whole():
    payload = parse(200, body(result=True, errors=[], taskid="1", socketaccesstoken="t"))
    assert payload["taskid"] == "1"


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (97, "Insufficient balance", WiroInsufficientBalance),
        (96, "Concurrent task limit reached (balance $3, limit 1)", WiroConcurrencyLimit),
        (1, "There is no task yet.", WiroNotFound),
        (1, "Task is not in a cancellable state.", WiroNotFound),
        (0, "Request parameter [prompt] required", WiroValidationError),
        (0, "Request parameter [steps] must be integer or float", WiroValidationError),
        (0, "Request parameter [samples] must be between 1 and 4", WiroValidationError),
        (0, "Request parameters are invalid.", WiroValidationError),
        (
            0,
            "Project requires signature authentication. x-signature and x-nonce ...",
            WiroAuthError,
        ),
        (0, "Project authorization is not valid.", WiroAuthError),
        (0, "Project authorization is not founded.", WiroAuthError),
        (0, "Requested ip 10.1.2.3 is not allowed.", WiroAuthError),
        (99, "Bearer token is invalid", WiroAuthError),
        (0, "Something went wrong on our side", WiroServerError),
    ],
)
def test_error_objects_map_to_typed_errors(code, message, kind):
    with pytest.raises(kind) as caught:
        parse(200, failing({"code": code, "message": message}))
    assert type(caught.value) is kind
    assert caught.value.code == code
    assert caught.value.message == message
    assert caught.value.http_status == 200


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Insufficient balance", WiroInsufficientBalance),
        ("Concurrent task limit reached", WiroConcurrencyLimit),
        ("There is no task yet.", WiroNotFound),
        ("Task is not in a cancellable state.", WiroNotFound),
        ("Request parameter [steps] must be integer or float", WiroValidationError),
        ("Project authorization is not valid.", WiroAuthError),
        ("Requested ip 10.1.2.3 is not allowed.", WiroAuthError),
        ("Unexpected failure", WiroServerError),
    ],
)
def test_plain_string_errors_are_classified_by_their_text(message, kind):
    with pytest.raises(kind) as caught:
        parse(200, failing(message))
    assert type(caught.value) is kind
    assert caught.value.code is None
    assert caught.value.message == message


def test_only_the_first_error_counts():
    with pytest.raises(WiroInsufficientBalance):
        parse(200, failing({"code": 97, "message": "Insufficient balance"}, "other"))


def test_result_false_without_errors_is_a_server_error():
    with pytest.raises(WiroServerError):
        parse(200, body(result=False, errors=[]))


def test_malformed_json_is_a_server_error():
    with pytest.raises(WiroServerError, match="malformed"):
        parse(200, b"<html>oops</html>")
    with pytest.raises(WiroServerError):
        parse(200, b"[1, 2]")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, WiroAuthError),
        (403, WiroAuthError),
        (404, WiroNotFound),
        (400, WiroValidationError),
        (422, WiroValidationError),
        (408, WiroConnectionError),
        (429, WiroRateLimited),
        (500, WiroServerError),
        (502, WiroServerError),
        (504, WiroServerError),
        (418, WiroError),
    ],
)
def test_http_status_comes_first(status, kind):
    # Even a body claiming success does not hide a bad status.
    with pytest.raises(kind) as caught:
        parse(status, body(result=True, errors=[]))
    assert type(caught.value) is kind
    assert caught.value.http_status == status


def test_http_errors_keep_wiros_message_and_code():
    with pytest.raises(WiroAuthError) as caught:
        parse(401, failing({"code": 0, "message": "Project authorization is not valid."}))
    assert caught.value.code == 0
    assert "Project authorization is not valid." in caught.value.message
    with pytest.raises(WiroNotFound, match="Error parsing url"):
        parse(404, failing({"code": 0, "message": "Error parsing url."}))


def test_html_error_bodies_are_shortened():
    with pytest.raises(WiroServerError) as caught:
        parse(502, b"<html>" + b"x" * 5000 + b"</html>")
    assert len(caught.value.message) < 300


def test_rate_limit_reads_retry_after_seconds():
    with pytest.raises(WiroRateLimited) as caught:
        parse(429, failing("Too many requests"), {"Retry-After": "7"})
    assert caught.value.retry_after == 7.0
    with pytest.raises(WiroRateLimited) as caught:
        parse(429, b"")
    assert caught.value.retry_after is None


def test_retry_after_accepts_http_dates_and_rejects_junk():
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= parse_retry_after(format_datetime(later, usegmt=True)) <= 31
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_error_from_message_keeps_unknown_codes_generic():
    error = error_from_message("Sign in required for this model", 98)
    assert isinstance(error, WiroAuthError)
    error = error_from_message("Strange", 42)
    assert type(error) is WiroError
    assert error.code == 42
