from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from compensation.money import format_cents, product_cents, round_decimal_cents


def test_half_up_not_half_even():
    # SPEC rule 10: 1,006.30 x 5% = 50.32; 1,013.30 x 5% = 50.67 (half-even would give 50.66)
    assert product_cents([1006.30, 1013.30], [0.05, 0.05]).tolist() == [5032, 5067]


def test_away_from_zero_for_negatives():
    assert product_cents([-1006.30], [0.05]).tolist() == [-5032]
    assert round_decimal_cents(Decimal("-50.315")) == -5032


def test_fx_division_rounds_once():
    # 10,000 GBP at 1.15 into EUR, and back through a non-base plan currency
    assert product_cents([10000], [1.15], divisor=[1.0]).tolist() == [1150000]
    assert product_cents([100], [1.15], divisor=[0.9]).tolist() == [12778]


def test_format_cents():
    assert [format_cents(c) for c in (-200000, 5, 0, 123456789)] == ["-2000.00", "0.05", "0.00", "1234567.89"]


@given(st.integers(-10**9, 10**9), st.integers(0, 10**6), st.integers(1, 10**4))
def test_matches_decimal_arithmetic(cents, rate_micro, share_ten_thousandths):
    amount = Decimal(cents) / 100
    rate = Decimal(rate_micro) / 10**6
    share = Decimal(share_ten_thousandths) / 10**4
    expected = round_decimal_cents(amount * rate * share)
    got = product_cents(np.array([float(amount)]), np.array([float(rate)]), np.array([float(share)]))
    assert got.tolist() == [expected]
