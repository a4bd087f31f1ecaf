"""The reply limit's parameter by model family, and the prompt and reply fitted to a context window."""

import pytest

from bot.assembly.config import Settings, SettingsError
from bot.conversation.model_fit import ModelFit, is_reasoning_model, known_limits


@pytest.mark.parametrize("model", ["o1", "o1-mini", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "GPT-5.1"])
def test_reasoning_models_get_max_completion_tokens(model: str) -> None:
    assert is_reasoning_model(model)
    assert ModelFit.for_model(model, max_tokens=100).token_parameter == "max_completion_tokens"


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4.1", "meta-llama/Llama-3.1-8B-Instruct"])
def test_other_models_get_max_tokens_which_every_compatible_server_knows(model: str) -> None:
    assert ModelFit.for_model(model, max_tokens=100).token_parameter == "max_tokens"


def test_the_parameter_can_be_forced_either_way() -> None:
    assert (
        ModelFit.for_model("o4-mini", max_tokens=1, token_parameter="max_tokens").token_parameter
        == "max_tokens"
    )
    forced = ModelFit.for_model("llama", max_tokens=1, token_parameter="max_completion_tokens")
    assert forced.token_parameter == "max_completion_tokens"


def test_known_models_have_their_window_and_output_limit() -> None:
    assert known_limits("gpt-4o-mini") == (128_000, 16_384)
    assert known_limits("openai/gpt-4o") == (128_000, 16_384)
    assert known_limits("gpt-4") == (8_192, 8_192)
    assert known_limits("my-local-model") == (None, None)


def test_an_unknown_window_fits_nothing() -> None:
    fit = ModelFit.for_model("my-local-model", max_tokens=16000)

    assert fit.prompt_budget(12000) == 12000
    assert fit.reply_limit(100_000) == 16000


def test_a_large_window_leaves_the_budget_and_the_reply_limit_alone() -> None:
    fit = ModelFit.for_model("gpt-4o-mini", max_tokens=16000)

    assert fit.prompt_budget(12000) == 12000
    assert fit.reply_limit(12000) == 16000


def test_a_small_window_shrinks_the_prompt_budget_and_the_reply_limit_fits_what_is_left() -> None:
    fit = ModelFit.for_model("local", max_tokens=16000, context_window=8192)

    budget = fit.prompt_budget(12000)
    assert budget < 8192
    limit = fit.reply_limit(budget)
    assert limit >= 8192 // 4
    assert budget * 1.25 + limit <= 8192


def test_the_window_setting_wins_over_the_known_one() -> None:
    assert ModelFit.for_model("gpt-4o", max_tokens=1, context_window=16_384).context_window == 16_384


def test_settings_read_the_token_parameter_and_the_window() -> None:
    settings = Settings.from_env(
        {"OPENAI_TOKEN_PARAMETER": "Max_Completion_Tokens", "OPENAI_CONTEXT_WINDOW": "8192"}
    )

    assert (settings.openai_token_parameter, settings.openai_context_window) == (
        "max_completion_tokens",
        8192,
    )
    assert (Settings.from_env({}).openai_token_parameter, Settings.from_env({}).openai_context_window) == (
        "auto",
        None,
    )


@pytest.mark.parametrize(
    ("name", "value"), [("OPENAI_TOKEN_PARAMETER", "max_length"), ("OPENAI_CONTEXT_WINDOW", "0")]
)
def test_unusable_values_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
