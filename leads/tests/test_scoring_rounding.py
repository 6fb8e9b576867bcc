"""The engine's quick rounding to cents gives exactly what round(value, 2) gives."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.scoring import round_cents


def same_float(left: float, right: float) -> bool:
    # Equal, and of the same sign: the breakdown would show -0.0 and 0.0 differently.
    return left == right and math.copysign(1, left) == math.copysign(1, right)


@pytest.mark.parametrize(
    "value",
    [
        0.125, 0.135, 1.005, 2.675, 1.015, -1.005, -2.675, 0.005, -0.005, -0.004, -0.0, 0.0,
        0.01, 0.994999999, 0.995, 12.345, 49.999999999, 1e7 + 0.005, 1e9, 1e300, -1e300,
        2 * 0.5 ** (3 / 14), 20 * 3 * 0.5 ** (45.0000001 / 14),
    ],
)  # fmt: skip
def test_rounding_to_cents_matches_round_on_ties_signs_and_extremes(value):
    assert same_float(round_cents(value), round(value, 2))


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_rounding_to_cents_matches_round_on_any_float(value):
    assert same_float(round_cents(value), round(value, 2))


@given(st.integers(min_value=-(10**8), max_value=10**8), st.integers(min_value=-3, max_value=3))
def test_rounding_to_cents_matches_round_next_to_half_a_cent(cents, steps):
    # Values within a few units in the last place of halfway between two cents.
    value = (cents + 0.5) / 100
    for _ in range(abs(steps)):
        value = math.nextafter(value, math.copysign(math.inf, steps))
    assert same_float(round_cents(value), round(value, 2))


@given(
    points=st.integers(min_value=-100, max_value=100),
    quantity=st.integers(min_value=1, max_value=50),
    age_days=st.floats(min_value=0, max_value=400, allow_nan=False),
    half_life=st.integers(min_value=1, max_value=365),
)
def test_rounding_to_cents_matches_round_on_decayed_points(points, quantity, age_days, half_life):
    earned = points * quantity * 0.5 ** (age_days / half_life)
    assert same_float(round_cents(earned), round(earned, 2))
