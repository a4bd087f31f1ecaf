"""OpenAI fails (429, 500, a hang): the coach hears so once, briefly, and nothing is lost or doubled.

The OpenAI client retries once (``OPENAI_MAX_RETRIES=1``); when that fails too the coach gets one
short message in the thread saying what happened and that their message is saved. A redelivery of
the same event racing the first must not make a second model call or a second message, and the
next message in the thread is answered with the failed one in its history.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from tests.faults.ledger import audit, sent, settled
from tests.fixtures.replicas import ReplicaLauncher, deliver
from tests.fixtures.waiting import eventually

# About other faults, not Slack's rate tiers (tests/faults/test_slack_faults.py has those).
pytestmark = pytest.mark.slack_rules(rate_limits=False)

DM = "D0MODELFAULT"
TIMEOUT_SECONDS = "1"

FAULTS: dict[str, tuple[Callable[[FakeOpenAI], None], str]] = {
    "429": (lambda fake: fake.fail_next(429, times=2, retry_after=0.01), "too many requests"),
    "500": (lambda fake: fake.fail_next(500, times=2), "unavailable"),
    "hang": (lambda fake: fake.stall_next(3.0, times=2), "took too long"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_an_openai_failure_gets_one_short_human_message_and_the_message_is_kept(
    fault: str,
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    database_url: str,
) -> None:
    (replica,) = replicas.start(database_url, OPENAI_TIMEOUT=TIMEOUT_SECONDS, OPENAI_MAX_RETRIES="1")
    inject, says = FAULTS[fault]
    inject(fake_openai)
    event = slack_emulator.user_says(channel=DM, text="Help me prepare a hard conversation.")
    body = slack_emulator.envelope(event)

    deliveries = deliver(slack_emulator, body, [replica, replica], concurrent=True)  # a retry races it
    assert [d.status for d in deliveries] == [200, 200]
    assert eventually(lambda: replica.listener_runs() >= 2, timeout=30)
    assert eventually(lambda: settled(database_url), timeout=30), "the turn still running or owed"

    (note,) = slack_emulator.replies_in(DM, event["ts"])
    assert says in note.text and "saved" in note.text
    assert len(note.text) < 200 and "Error" not in note.text and fault not in note.text
    assert len(fake_openai.requests) == 2  # the first try and the client's one retry, for one delivery

    follow_up = slack_emulator.user_says(channel=DM, thread_ts=event["ts"], text="Are you back?")
    follow_up_body = slack_emulator.envelope(follow_up)
    assert deliver(slack_emulator, follow_up_body, [replica])[0].status == 200
    answer = slack_emulator.wait_for_replies(DM, event["ts"], count=2, timeout=20)[-1]
    assert "you have told me 2 things" in answer.text  # the failed turn's message is in the history
    assert eventually(lambda: replica.listener_runs() >= 3, timeout=20)
    assert eventually(lambda: settled(database_url), timeout=30), "the turn still running or owed"

    result = audit(slack_emulator, database_url, [sent(event, body), sent(follow_up, follow_up_body)])
    assert result.clean, str(result)
