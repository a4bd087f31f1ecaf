"""The fake OpenAI's structured outputs, through the real client over HTTP: ``response_format`` is
checked as OpenAI documents it, and a ``json_schema`` request gets a valid instance."""

from __future__ import annotations

import copy
import json
from typing import Any

import openai
import pytest

from bot.memory.extraction import EXTRACTION_SCHEMA, RESPONSE_FORMAT
from devkit.fake_openai import FakeOpenAI
from devkit.openai_schema import instance_problem

pytest_plugins = ["tests.fixtures.fakes"]

HI = [{"role": "user", "content": "hi"}]


def strict(schema: dict[str, Any], name: str = "wrap_up") -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


async def create(fake: FakeOpenAI, **request: Any) -> Any:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as ai:
        return await ai.chat.completions.create(**{"model": "gpt-4o-mini", "messages": HI, **request})


async def refusal(fake: FakeOpenAI, **request: Any) -> str:
    with pytest.raises(openai.BadRequestError) as caught:
        await create(fake, **request)
    return str(caught.value.body["message"])  # type: ignore[index]


async def test_a_json_schema_request_is_answered_with_a_valid_instance(fake_openai: FakeOpenAI) -> None:
    completion = await create(fake_openai, response_format=RESPONSE_FORMAT)

    value = json.loads(completion.choices[0].message.content)
    assert instance_problem(value, EXTRACTION_SCHEMA) is None
    assert completion.choices[0].finish_reason == "stop"


async def test_a_scripted_instance_is_served_and_one_that_does_not_fit_fails_the_request(
    fake_openai: FakeOpenAI,
) -> None:
    scripted = {"summary": "s", "goals": ["g"], "commitments": [], "remember": []}
    fake_openai.queue_json(scripted)
    completion = await create(fake_openai, response_format=RESPONSE_FORMAT)
    assert json.loads(completion.choices[0].message.content) == scripted

    fake_openai.queue_json({"summary": "s"})  # the lists are required
    with pytest.raises(openai.InternalServerError):
        await create(fake_openai, response_format=RESPONSE_FORMAT)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda s: s.pop("additionalProperties"), "additionalProperties"),
        (lambda s: s["required"].remove("goals"), "required"),
        (
            lambda s: s["properties"]["commitments"]["items"].pop("additionalProperties"),
            "additionalProperties",
        ),
        (lambda s: s["properties"]["goals"].update(uniqueItems=True), "uniqueItems"),
    ],
)
async def test_a_strict_schema_must_follow_openais_subset(
    fake_openai: FakeOpenAI, change: Any, named: str
) -> None:
    schema = copy.deepcopy(EXTRACTION_SCHEMA)
    change(schema)

    assert named in await refusal(fake_openai, response_format=strict(schema))


async def test_a_json_schema_needs_a_valid_name(fake_openai: FakeOpenAI) -> None:
    no_name = {"type": "json_schema", "json_schema": {"strict": True, "schema": EXTRACTION_SCHEMA}}
    assert "json_schema.name" in await refusal(fake_openai, response_format=no_name)
    assert "pattern" in await refusal(fake_openai, response_format=strict(EXTRACTION_SCHEMA, name="wrap up!"))


async def test_json_object_mode_needs_the_word_json_and_old_models_refuse_json_schema(
    fake_openai: FakeOpenAI,
) -> None:
    assert "json" in await refusal(fake_openai, response_format={"type": "json_object"})
    assert "not supported with this model" in await refusal(
        fake_openai, model="gpt-3.5-turbo", response_format=RESPONSE_FORMAT
    )
