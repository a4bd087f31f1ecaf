"""The fake's /v1/moderations answers the real openai client as OpenAI does, and refuses what it refuses."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from devkit.fake_openai import FakeOpenAI
from devkit.openai_moderation import CATEGORIES

pytest_plugins = ["tests.fixtures.fakes"]


def client(fake: FakeOpenAI) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0)


async def test_an_unflagged_text_comes_back_with_every_category_false(fake_openai: FakeOpenAI) -> None:
    async with client(fake_openai) as ai:
        answer = await ai.moderations.create(model="omni-moderation-latest", input="I want to focus.")

    assert answer.model == "omni-moderation-latest" and answer.id.startswith("modr-")
    (result,) = answer.results
    assert result.flagged is False
    assert set(result.categories.model_dump(by_alias=True)) == set(CATEGORIES)
    assert not any(result.categories.model_dump().values())
    assert result.category_applied_input_types is not None


async def test_a_scripted_flag_marks_the_next_request_only(fake_openai: FakeOpenAI) -> None:
    fake_openai.moderations.flag_next("self-harm", "self-harm/intent")
    async with client(fake_openai) as ai:
        flagged = await ai.moderations.create(model="omni-moderation-latest", input="anything")
        after = await ai.moderations.create(model="omni-moderation-latest", input="anything")

    assert flagged.results[0].flagged and flagged.results[0].categories.self_harm_intent
    assert not flagged.results[0].categories.violence
    assert not after.results[0].flagged


async def test_an_array_of_texts_gets_one_result_each(fake_openai: FakeOpenAI) -> None:
    fake_openai.moderations.flag_words("storm", "violence")
    async with client(fake_openai) as ai:
        answer = await ai.moderations.create(input=["calm", "a storm"])

    assert [r.flagged for r in answer.results] == [False, True]
    assert answer.model == "omni-moderation-latest"  # the default model


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "omni-moderation-latest"}, "input"),
        ({"input": "x", "model": "gpt-4o-mini"}, "model"),
        ({"input": [], "model": "omni-moderation-latest"}, "input"),
        ({"input": "x", "temperature": 0}, "temperature"),
        (
            {
                "input": [{"type": "image_url", "image_url": {"url": "data:,"}}],
                "model": "text-moderation-latest",
            },
            "input",
        ),
    ],
)
async def test_a_request_the_reference_forbids_is_refused(
    fake_openai: FakeOpenAI, body: dict[str, Any], param: str
) -> None:
    async with client(fake_openai) as ai:
        with pytest.raises(openai.BadRequestError) as refused:
            await ai.post("/moderations", body=body, cast_to=object)

    assert refused.value.param == param


async def test_a_wrong_key_is_refused_and_a_server_without_the_endpoint_answers_404(
    fake_openai: FakeOpenAI,
) -> None:
    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-wrong", max_retries=0) as ai:
        with pytest.raises(openai.AuthenticationError):
            await ai.moderations.create(input="x")
    fake_openai.moderations.available = False
    async with client(fake_openai) as ai:
        with pytest.raises(openai.NotFoundError):
            await ai.moderations.create(input="x")
