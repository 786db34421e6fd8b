"""Signature and nonce rules from the Wiro fact sheet §1 (no network)."""

import threading
import time

from bot.core.wiro.signing import MonotonicNonce, auth_headers, next_nonce, sign

# Computed independently with:
#   echo -n "test-secret1700000000000" | openssl dgst -sha256 -hmac "test-key"
VECTOR = "427bc81d3b6946d27894713415e3dea6af3bff7c15f60b63708d1f37da12465c"
#   echo -n "s3cr3t42" | openssl dgst -sha256 -hmac "key-abc"
VECTOR_2 = "74d69d557352e859c2298eeea0c20b764ac5b47ee37142d922c07ec0daa237f7"


def test_signature_matches_an_independently_computed_vector():
    assert sign("test-key", "test-secret", "1700000000000") == VECTOR
    assert sign("test-key", "test-secret", 1700000000000) == VECTOR


def test_the_api_key_is_the_hmac_key_and_secret_plus_nonce_the_message():
    assert sign("key-abc", "s3cr3t", "42") == VECTOR_2
    # Swapping roles gives something else: the classic mistake from third-party clients.
    assert sign("s3cr3t", "key-abc", "42") != VECTOR_2


def test_signature_headers_carry_a_fresh_nonce_and_its_signature():
    nonces = iter([1700000000000, 1700000000001])
    first = auth_headers("test-key", "test-secret", nonce=lambda: next(nonces))
    second = auth_headers("test-key", "test-secret", nonce=lambda: next(nonces))
    assert first == {"x-api-key": "test-key", "x-nonce": "1700000000000", "x-signature": VECTOR}
    assert second["x-nonce"] == "1700000000001"
    assert second["x-signature"] == sign("test-key", "test-secret", "1700000000001")


def test_api_key_only_mode_sends_the_key_alone():
    assert auth_headers("only-key", "") == {"x-api-key": "only-key"}


def test_nonce_is_the_wall_clock_in_milliseconds():
    before = time.time_ns() // 1_000_000
    nonce = next_nonce()
    after = time.time_ns() // 1_000_000
    assert before <= nonce <= after + 1000  # +1000: earlier tests may have run ahead of the clock


def test_nonce_increases_within_the_same_millisecond():
    nonce = MonotonicNonce(clock_ms=lambda: 5000)
    assert [nonce() for _ in range(3)] == [5000, 5001, 5002]


def test_nonce_never_moves_backwards_with_the_clock():
    clock = iter([5000, 4000, 4000, 7000])
    nonce = MonotonicNonce(clock_ms=lambda: next(clock))
    assert [nonce() for _ in range(4)] == [5000, 5001, 5002, 7000]


def test_nonce_is_unique_and_increasing_across_threads():
    nonce = MonotonicNonce(clock_ms=lambda: 1000)  # a frozen clock makes collisions likely
    per_thread: list[list[int]] = [[] for _ in range(8)]

    def draw(bucket: list[int]) -> None:
        for _ in range(2000):
            bucket.append(nonce())

    threads = [threading.Thread(target=draw, args=(bucket,)) for bucket in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [value for bucket in per_thread for value in bucket]
    assert len(set(everything)) == len(everything) == 16000
    for bucket in per_thread:
        assert bucket == sorted(bucket)


def test_skipping_moves_the_next_nonce_ahead() -> None:
    nonces = MonotonicNonce(clock_ms=lambda: 1_000)
    assert nonces() == 1_000 and nonces() == 1_001
    nonces.skip(50)
    assert nonces() == 1_052  # strictly after the skipped range, still increasing
