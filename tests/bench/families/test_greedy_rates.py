"""``greedy_rates``' helpers. That every family's model opens, ends its thinking and stops on the real engine is
checked through the server by ``tests/e2e/test_families.py`` (one engine start per family is all CI's five-minute
budget for real vocabularies allows)."""

from __future__ import annotations

from bench.families.greedy_rates import position


def test_position_is_the_first_occurrence_or_none() -> None:
    assert position([5, 7, 7], 7) == 1
    assert position([5], 7) is None
