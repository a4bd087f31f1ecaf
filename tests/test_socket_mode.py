"""``coachbot serve --socket-mode`` end to end: Bolt connects to the emulator's Socket Mode WebSocket."""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator

DM = "D0SOCK"


def test_apps_connections_open_needs_the_app_level_token(slack_emulator: SlackEmulator) -> None:
    client = WebClient(base_url=slack_emulator.base_url)

    opened = client.apps_connections_open(app_token=slack_emulator.app_token)
    assert opened["url"].startswith(slack_emulator.origin.replace("http://", "ws://") + "/socket/")

    for wrong in ("xapp-wrong", slack_emulator.bot_token):
        try:
            client.apps_connections_open(app_token=wrong)
        except SlackApiError as error:
            assert error.response["error"] == "invalid_auth"
        else:
            raise AssertionError(f"{wrong} was accepted")


def test_socket_mode_delivers_events_and_the_reply_streams_into_the_thread(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.queue_reply("Over the socket, as promised.")
    threads_before = set(threading.enumerate())
    socket_settings = settings.with_overrides(slack_app_token=slack_emulator.app_token)
    server = BackgroundServer(socket_settings, socket_mode=True)
    with server:
        slack_emulator.wait_for_socket_client(timeout=10)
        assert slack_emulator.calls_to("apps.connections.open")[-1].ok

        event = slack_emulator.user_says(channel=DM, text="Can you hear me over the socket?")
        ack = slack_emulator.send_socket_event(event, timeout=10)

        assert ack["envelope_id"]
        assert ack in slack_emulator.socket_acks
        replies = slack_emulator.wait_for_replies(DM, event["ts"], timeout=15)
        assert replies[-1].text == "Over the socket, as promised."
        assert slack_emulator.calls_to("chat.startStream"), "the reply is streamed"

        started = time.monotonic()
    # leaving the block stops the server: Bolt closes its WebSocket and the thread ends promptly
    assert time.monotonic() - started < 5
    assert not server.is_running
    deadline = time.monotonic() + 5
    while slack_emulator.socket_clients and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slack_emulator.socket_clients == []
    leftover = [t.name for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert leftover == [], f"threads left running after stop: {leftover}"
