"""The Slack emulator behaves like Slack towards slack_sdk clients and towards the app it calls."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from devkit.signing import sign
from devkit.slack_emulator import SlackEmulator

pytest_plugins = ["tests.fixtures.fakes"]

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-devkit"


def client(emulator: SlackEmulator, **kwargs: Any) -> WebClient:
    return WebClient(base_url=emulator.base_url, token=TOKEN, **kwargs)


# --------------------------------------------------------------------- a tiny app-side receiver


class Receiver:
    """Records what the emulator POSTs; sleeps ``slow_first`` seconds before answering the first one."""

    def __init__(self, slow_first: float = 0.0):
        self.slow_first = slow_first
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self.url = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    first = len(receiver.received) == 1
                if first and receiver.slow_first:
                    time.sleep(receiver.slow_first)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the emulator gave up waiting, like Slack does

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def raw_post(
    url: str, data: bytes, content_type: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": content_type, **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------- Web API


def test_post_message_is_answered_like_slack_and_recorded(slack_emulator: SlackEmulator) -> None:
    response = client(slack_emulator).chat_postMessage(
        channel="D0COACH", text="hello", thread_ts="1700000000.000100"
    )

    assert response["ok"] is True
    assert response["channel"] == "D0COACH"
    assert response["message"]["text"] == "hello"
    [call] = slack_emulator.calls_to("chat.postMessage")
    assert call.args == {"channel": "D0COACH", "text": "hello", "thread_ts": "1700000000.000100"}
    assert call.ok and call.at > 0 and call.wall > 0
    [reply] = slack_emulator.replies_in("D0COACH", "1700000000.000100")
    assert (reply.ts, reply.text, reply.bot_id, reply.streaming) == (response["ts"], "hello", "B0BOT", False)


def test_message_ts_values_are_unique_and_increasing(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)
    posted = [web.chat_postMessage(channel=f"C{i}", text=str(i))["ts"] for i in range(5)]
    stamps = [*posted, slack_emulator.ts()]

    assert len(set(stamps)) == len(stamps)
    assert stamps == sorted(stamps, key=float)
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_a_wrong_token_is_rejected_with_invalid_auth(slack_emulator: SlackEmulator) -> None:
    web = WebClient(base_url=slack_emulator.base_url, token="xoxb-wrong")

    with pytest.raises(SlackApiError) as caught:
        web.auth_test()

    assert caught.value.response["error"] == "invalid_auth"
    assert slack_emulator.calls_to("auth.test")[0].error == "invalid_auth"


def test_a_missing_token_is_rejected_with_not_authed(slack_emulator: SlackEmulator) -> None:
    body = raw_post(slack_emulator.base_url + "auth.test", b"", "application/x-www-form-urlencoded")

    assert body == {"ok": False, "error": "not_authed"}


def test_auth_test_identifies_the_bot(slack_emulator: SlackEmulator) -> None:
    response = client(slack_emulator).auth_test()

    assert response["user_id"] == "U0BOT"
    assert response["bot_id"] == "B0BOT"
    assert response["team_id"] == "T0DEVKIT"
    assert response["is_enterprise_install"] is False


def test_chat_stream_helper_produces_one_complete_message_with_the_concatenated_text(
    slack_emulator: SlackEmulator,
) -> None:
    thread_ts = slack_emulator.user_says(channel="D0COACH", text="help me")["ts"]
    stream = client(slack_emulator).chat_stream(
        channel="D0COACH",
        thread_ts=thread_ts,
        buffer_size=1,
        recipient_team_id="T0DEVKIT",
        recipient_user_id="U0COACH",
    )

    stream.append(markdown_text="Let's ")
    live = slack_emulator.replies_in("D0COACH", thread_ts)
    stream.append(markdown_text="think ")
    stream.append(markdown_text="this through.")
    stream.stop(markdown_text=" Ready?")

    assert [(m.text, m.streaming) for m in live] == [("Let's ", True)]
    [reply] = slack_emulator.wait_for_replies("D0COACH", thread_ts, timeout=2)
    assert reply.text == "Let's think this through. Ready?"
    assert reply.streaming is False
    assert reply.updates == 3
    methods = [c.method for c in slack_emulator.calls]
    assert methods == ["chat.startStream", "chat.appendStream", "chat.appendStream", "chat.stopStream"]


def test_stream_calls_on_a_stopped_or_unknown_message_fail_like_slack(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)
    ts = web.chat_startStream(channel="D0COACH", thread_ts="1700000000.000100", markdown_text="hi")["ts"]
    web.chat_stopStream(channel="D0COACH", ts=ts)

    with pytest.raises(SlackApiError) as stopped:
        web.chat_appendStream(channel="D0COACH", ts=ts, markdown_text="more")
    with pytest.raises(SlackApiError) as unknown:
        web.chat_appendStream(channel="D0COACH", ts="1.000001", markdown_text="more")

    assert stopped.value.response["error"] == "message_not_in_streaming_state"
    assert unknown.value.response["error"] == "message_not_found"


def test_form_encoded_stream_calls_with_json_string_chunks_are_understood(
    slack_emulator: SlackEmulator,
) -> None:
    url = slack_emulator.base_url
    form = "application/x-www-form-urlencoded"
    chunks = json.dumps([{"type": "markdown_text", "text": "from a form"}])
    started = raw_post(
        url + "chat.startStream",
        urllib.parse.urlencode(
            {"token": TOKEN, "channel": "D0COACH", "thread_ts": "1.000001", "chunks": chunks}
        ).encode(),
        form,
    )
    raw_post(
        url + "chat.stopStream",
        urllib.parse.urlencode({"token": TOKEN, "channel": "D0COACH", "ts": started["ts"]}).encode(),
        form,
    )

    [reply] = slack_emulator.replies_in("D0COACH", "1.000001")
    assert (reply.text, reply.streaming) == ("from a form", False)


def test_rate_limited_call_returns_429_with_retry_after_and_slack_sdk_retries_it(
    slack_emulator: SlackEmulator,
) -> None:
    slack_emulator.fail("chat.postMessage", retry_after=0)
    web = client(slack_emulator, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    response = web.chat_postMessage(channel="C1", text="eventually")

    assert response["ok"] is True
    first, second = slack_emulator.calls_to("chat.postMessage")
    assert (first.status, first.error) == (429, "ratelimited")
    assert second.ok
    assert len(slack_emulator.messages("C1")) == 1


def test_a_rate_limit_carries_the_retry_after_header(slack_emulator: SlackEmulator) -> None:
    slack_emulator.fail("chat.update", retry_after=7)

    with pytest.raises(SlackApiError) as caught:
        client(slack_emulator).chat_update(channel="C1", ts="1.000001", text="x")

    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] in ("7", ["7"])


def test_an_injected_http_200_error_is_answered_once(slack_emulator: SlackEmulator) -> None:
    slack_emulator.fail("chat.postMessage", error="internal_error", status=200)
    web = client(slack_emulator)

    with pytest.raises(SlackApiError) as caught:
        web.chat_postMessage(channel="C1", text="first")
    second = web.chat_postMessage(channel="C1", text="second")

    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "internal_error"
    assert second["ok"] is True


def test_markdown_text_over_12000_characters_is_msg_too_long(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)

    with pytest.raises(SlackApiError) as caught:
        web.chat_startStream(channel="D0COACH", thread_ts="1.000001", markdown_text="x" * 12_001)
    ok = web.chat_startStream(channel="D0COACH", thread_ts="1.000001", markdown_text="x" * 12_000)

    assert caught.value.response["error"] == "msg_too_long"
    assert ok["ok"] is True
    web.chat_stopStream(channel="D0COACH", ts=ok["ts"])


def test_streamed_message_over_40000_characters_is_msg_too_long(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)
    ts = web.chat_startStream(channel="D0COACH", thread_ts="1.000001", markdown_text="x" * 12_000)["ts"]
    for _ in range(2):
        web.chat_appendStream(channel="D0COACH", ts=ts, markdown_text="x" * 12_000)
    web.chat_appendStream(channel="D0COACH", ts=ts, markdown_text="x" * 4_000)

    with pytest.raises(SlackApiError) as caught:
        web.chat_appendStream(channel="D0COACH", ts=ts, markdown_text="x")

    assert caught.value.response["error"] == "msg_too_long"
    assert len(slack_emulator.messages("D0COACH")[0].text) == 40_000
    web.chat_stopStream(channel="D0COACH", ts=ts)


def test_post_message_and_update_over_40000_characters_are_msg_too_long(
    slack_emulator: SlackEmulator,
) -> None:
    web = client(slack_emulator)
    ts = web.chat_postMessage(channel="C1", text="short")["ts"]

    with pytest.raises(SlackApiError) as post:
        web.chat_postMessage(channel="C1", text="y" * 40_001)
    with pytest.raises(SlackApiError) as update:
        web.chat_update(channel="C1", ts=ts, text="y" * 40_001)

    assert post.value.response["error"] == update.value.response["error"] == "msg_too_long"


def test_update_replaces_text_and_delete_removes_the_message(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)
    ts = web.chat_postMessage(channel="C1", text="draft", thread_ts="1.000001")["ts"]

    web.chat_update(channel="C1", ts=ts, text="final")
    [updated] = slack_emulator.replies_in("C1", "1.000001")
    web.chat_delete(channel="C1", ts=ts)

    assert (updated.text, updated.updates) == ("final", 1)
    assert slack_emulator.replies_in("C1", "1.000001") == []


def test_users_info_reports_admin_flags_and_rejects_unknown_users(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)

    admin = web.users_info(user="U0ADMIN")["user"]
    coach = web.users_info(user="U0COACH")["user"]
    with pytest.raises(SlackApiError) as caught:
        web.users_info(user="U0NOBODY")

    assert (admin["is_admin"], admin["is_bot"], coach["is_admin"]) == (True, False, False)
    assert caught.value.response["error"] == "user_not_found"


def test_assistant_thread_methods_are_acknowledged_and_recorded(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)

    web.assistant_threads_setStatus(channel_id="D0COACH", thread_ts="1.000001", status="is thinking...")
    web.assistant_threads_setTitle(channel_id="D0COACH", thread_ts="1.000001", title="Coaching")
    web.assistant_threads_setSuggestedPrompts(
        channel_id="D0COACH", thread_ts="1.000001", prompts=[{"title": "Start", "message": "Hi"}]
    )

    assert slack_emulator.calls_to("assistant.threads.setStatus")[0].args["status"] == "is thinking..."
    assert len(slack_emulator.calls) == 3


def test_unknown_methods_answer_unknown_method(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as caught:
        client(slack_emulator).api_call("pins.add", json={"channel": "C1"})

    assert caught.value.response["error"] == "unknown_method"
    assert slack_emulator.calls_to("pins.add")[0].error == "unknown_method"


async def test_async_web_client_calls_are_understood(slack_emulator: SlackEmulator) -> None:
    web = AsyncWebClient(base_url=slack_emulator.base_url, token=TOKEN)
    thread_ts = slack_emulator.user_says(channel="D0COACH", text="hi")["ts"]

    await web.chat_postMessage(channel="D0COACH", thread_ts=thread_ts, text="hello coach")
    replies = await web.conversations_replies(channel="D0COACH", ts=thread_ts)
    user = await web.users_info(user="U0ADMIN")

    assert [m["text"] for m in replies["messages"]] == ["hi", "hello coach"]
    assert user["user"]["is_admin"] is True
    await slack_emulator.wait_for_replies_async("D0COACH", thread_ts, timeout=1)


def test_delay_adds_latency_to_a_method(slack_emulator: SlackEmulator) -> None:
    slack_emulator.delay("auth.test", 0.2)
    started = time.perf_counter()

    client(slack_emulator).auth_test()

    assert time.perf_counter() - started >= 0.2


@pytest.mark.leaves_streams_open  # the stream still typing is what the message describes
def test_wait_for_replies_explains_what_it_saw_on_timeout(slack_emulator: SlackEmulator) -> None:
    web = client(slack_emulator)
    web.chat_startStream(channel="D0COACH", thread_ts="1.000001", markdown_text="still typing")

    with pytest.raises(AssertionError) as caught:
        slack_emulator.wait_for_replies("D0COACH", "1.000001", timeout=0.1)

    message = str(caught.value)
    assert "streaming=True" in message and "still typing" in message and "chat.startStream" in message


def test_devkit_endpoints_expose_calls_and_messages_to_other_processes(slack_emulator: SlackEmulator) -> None:
    client(slack_emulator).chat_postMessage(channel="C1", text="visible")
    origin = slack_emulator.base_url.removesuffix("/api/")

    with urllib.request.urlopen(f"{origin}/_devkit/calls", timeout=5) as response:
        calls = json.loads(response.read())
    with urllib.request.urlopen(f"{origin}/_devkit/messages?channel=C1", timeout=5) as response:
        messages = json.loads(response.read())

    assert [c["method"] for c in calls] == ["chat.postMessage"]
    assert [m["text"] for m in messages] == ["visible"]


def test_recorded_calls_can_be_fetched_from_an_offset_so_a_poller_reads_only_new_ones(
    slack_emulator: SlackEmulator,
) -> None:
    for text in ("one", "two", "three"):
        client(slack_emulator).chat_postMessage(channel="C1", text=text)
    origin = slack_emulator.base_url.removesuffix("/api/")

    with urllib.request.urlopen(
        f"{origin}/_devkit/calls?method=chat.postMessage&since=2", timeout=5
    ) as response:
        newer = json.loads(response.read())

    assert [c["args"]["text"] for c in newer] == ["three"]


# --------------------------------------------------------------------- acting as Slack towards the app


def test_user_says_stores_the_message_and_builds_a_message_event(slack_emulator: SlackEmulator) -> None:
    event = slack_emulator.user_says(channel="D0COACH", text="hello", thread_ts="1.000001")
    body = slack_emulator.envelope(event, event_id="Ev0TEST")

    assert event["type"] == "message" and event["channel_type"] == "im"
    assert (event["user"], event["text"], event["thread_ts"], event["team"]) == (
        "U0COACH",
        "hello",
        "1.000001",
        "T0DEVKIT",
    )
    assert event["event_ts"] == event["ts"]
    assert body["type"] == "event_callback" and body["event_id"] == "Ev0TEST"
    assert body["authorizations"][0]["user_id"] == "U0BOT"
    assert [m.text for m in slack_emulator.messages("D0COACH")] == ["hello"]


def test_mention_and_assistant_thread_started_events_have_slacks_shape(slack_emulator: SlackEmulator) -> None:
    mention = slack_emulator.mention(channel="C0GENERAL", text="can you help?")
    started = slack_emulator.assistant_thread_started(channel="D0COACH", thread_ts="1.000001")

    assert mention["type"] == "app_mention" and mention["text"] == "<@U0BOT> can you help?"
    assert started["type"] == "assistant_thread_started"
    assert started["assistant_thread"]["thread_ts"] == "1.000001"
    assert started["assistant_thread"]["context"]["team_id"] == "T0DEVKIT"


def test_send_event_is_signed_exactly_like_slack(slack_emulator: SlackEmulator) -> None:
    verifier = SignatureVerifier(slack_emulator.signing_secret)
    with running(Receiver()) as receiver:
        delivery = slack_emulator.send_event(receiver.url, slack_emulator.user_says(channel="D1", text="hi"))

    [(headers, body)] = receiver.received
    assert delivery.ok and delivery.elapsed_ms > 0
    assert verifier.is_valid(body, headers["x-slack-request-timestamp"], headers["x-slack-signature"])
    assert json.loads(body)["event"]["text"] == "hi"
    assert "x-slack-retry-num" not in headers


def test_post_signed_can_send_a_bad_or_stale_signature(slack_emulator: SlackEmulator) -> None:
    verifier = SignatureVerifier(slack_emulator.signing_secret)
    with running(Receiver()) as receiver:
        slack_emulator.post_signed(receiver.url, b"{}", secret="not-the-secret")
        slack_emulator.post_signed(receiver.url, b"{}", timestamp=int(time.time()) - 600)

    (bad, body), (stale, _) = receiver.received
    assert not verifier.is_valid(body, bad["x-slack-request-timestamp"], bad["x-slack-signature"])
    assert not verifier.is_valid(body, stale["x-slack-request-timestamp"], stale["x-slack-signature"])


def test_sign_matches_slack_sdks_signature() -> None:
    headers = sign("secret", b'{"a":1}', timestamp=1_700_000_000)

    expected = SignatureVerifier("secret").generate_signature(timestamp="1700000000", body='{"a":1}')
    assert headers == {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": expected}


def test_deliver_retries_a_slow_ack_with_the_same_event_id(slack_emulator: SlackEmulator) -> None:
    event = slack_emulator.user_says(channel="D1", text="are you there?")
    with running(Receiver(slow_first=0.6)) as receiver:
        deliveries = slack_emulator.deliver(receiver.url, event, ack_timeout=0.3)

    assert [(d.status, d.error) for d in deliveries] == [(0, "http_timeout"), (200, None)]
    (first_headers, first_body), (retry_headers, retry_body) = receiver.received
    assert json.loads(first_body)["event_id"] == json.loads(retry_body)["event_id"]
    assert "x-slack-retry-num" not in first_headers
    assert (retry_headers["x-slack-retry-num"], retry_headers["x-slack-retry-reason"]) == (
        "1",
        "http_timeout",
    )


def test_send_event_marks_retries_when_asked(slack_emulator: SlackEmulator) -> None:
    with running(Receiver()) as receiver:
        slack_emulator.send_event(
            receiver.url, {"type": "message"}, event_id="Ev1", retry_num=2, retry_reason="http_error"
        )

    [(headers, body)] = receiver.received
    assert (headers["x-slack-retry-num"], headers["x-slack-retry-reason"]) == ("2", "http_error")
    assert json.loads(body)["event_id"] == "Ev1"


def test_send_command_posts_a_signed_form_whose_response_url_records_replies(
    slack_emulator: SlackEmulator,
) -> None:
    verifier = SignatureVerifier(slack_emulator.signing_secret)
    with running(Receiver()) as receiver:
        slack_emulator.send_command(receiver.url, "/perf", "week")

    [(headers, body)] = receiver.received
    form = dict(urllib.parse.parse_qsl(body.decode()))
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid(body, headers["x-slack-request-timestamp"], headers["x-slack-signature"])
    assert (form["command"], form["text"], form["user_id"], form["channel_id"]) == (
        "/perf",
        "week",
        "U0ADMIN",
        "C0GENERAL",
    )
    request = urllib.request.Request(
        form["response_url"], data=b'{"text": "report"}', headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5):
        pass
    [post] = slack_emulator.response_url_posts()
    assert post.body == {"text": "report"}


def test_an_emulator_can_be_stopped_and_started_again() -> None:
    emulator = SlackEmulator()
    with emulator:
        client(emulator).auth_test()
    with emulator:
        client(emulator).auth_test()

    assert len(emulator.calls_to("auth.test")) == 2


def test_runs_as_a_separate_process_and_prints_its_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit.slack_emulator", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("LISTENING http://127.0.0.1:") and line.endswith("/api/")
        WebClient(base_url=line.split()[1], token=TOKEN).auth_test()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()
