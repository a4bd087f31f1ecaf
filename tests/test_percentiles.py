"""The one percentile (bot.operations.percentiles): nearest rank, PostgreSQL's percentile_disc."""

import pytest

from bot.operations.percentiles import percentile

ONE_TO_A_HUNDRED = [float(value) for value in range(1, 101)]


def test_at_a_hundred_values_each_percentile_is_that_many_values_in() -> None:
    assert percentile(ONE_TO_A_HUNDRED, 0.50) == 50.0
    assert percentile(ONE_TO_A_HUNDRED, 0.95) == 95.0
    assert percentile(ONE_TO_A_HUNDRED, 0.99) == 99.0
    assert percentile(ONE_TO_A_HUNDRED, 1.0) == 100.0


def test_a_percentile_is_always_a_value_that_was_measured() -> None:
    assert percentile([1000.0, 2000.0, 3000.0, 4000.0], 0.5) == 2000.0
    assert percentile([1000.0, 2000.0, 3000.0, 4000.0], 0.95) == 4000.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([3.0, 5.0], 0.0) == 3.0


def test_no_values_have_no_percentile_and_a_fraction_outside_0_to_1_is_a_mistake() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError):
        percentile([1.0], 95)
