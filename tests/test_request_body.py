"""What the HTTP layer counts as a malformed Slack request body."""

import pytest

from bot.assembly.server import malformed_reason


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"type": "event_callback"}', "application/json"),
        (b"command=%2Fperf&text=db&user_id=U1", "application/x-www-form-urlencoded"),
        (b"payload=%7B%22type%22%3A%22block_actions%22%7D", "application/x-www-form-urlencoded"),
    ],
)
def test_well_formed_bodies_pass(body: bytes, content_type: str) -> None:
    assert malformed_reason(body, content_type) is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"type": "event_callback"', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b'{"half": ', "text/plain"),
    ],
)
def test_malformed_bodies_are_named(body: bytes, content_type: str) -> None:
    assert malformed_reason(body, content_type)
