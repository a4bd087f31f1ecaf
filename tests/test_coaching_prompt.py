"""The built-in system prompt coaches as a professional would, and says what it is not."""

import re

from bot.conversation.prompt import DEFAULT_SYSTEM_PROMPT, PROMPT_VERSION
from bot.conversation.tokens import count_tokens

PROMPT = DEFAULT_SYSTEM_PROMPT.lower()


def test_it_follows_grow_goal_reality_options_will() -> None:
    for step in ("goal", "reality", "options", "will"):
        assert step in PROMPT
    assert "grow" in PROMPT


def test_it_asks_before_advising_one_question_at_a_time() -> None:
    assert "ask before you advise" in PROMPT
    assert "one open question at a time" in PROMPT


def test_it_ends_a_session_with_an_agreed_next_step() -> None:
    assert "agreed next step" in PROMPT


def test_it_calls_the_person_you_and_itself_the_coach() -> None:
    assert 'call the person "you"' in PROMPT
    assert 'yourself "the coach"' in PROMPT


def test_it_says_it_is_an_ai_coach_and_not_a_therapist_doctor_lawyer_or_hr() -> None:
    assert "ai coach" in PROMPT
    assert "not a therapist, doctor, lawyer or hr" in PROMPT
    assert "no therapeutic, medical, legal or hr advice" in PROMPT


def test_it_points_a_coach_in_crisis_to_help() -> None:
    assert "emergency services" in PROMPT
    assert "employee assistance" in PROMPT


def test_it_never_pings_anyone() -> None:
    assert "never mention or notify other people" in PROMPT


def test_it_is_compact_and_versioned() -> None:
    assert count_tokens(DEFAULT_SYSTEM_PROMPT) <= 400  # it is paid for at every turn
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.[a-z0-9.-]+", PROMPT_VERSION)
