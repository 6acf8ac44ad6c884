"""Budget fields, aliases and server defaults resolved into one spec (pure)."""

from __future__ import annotations

import pytest

from server.protocol.errors import APIError
from server.thinking.spec import BudgetDefaults, check_fits, resolve_budget

DEFAULTS = BudgetDefaults(effort_budgets={"none": 0, "low": 64, "high": 1024, "xhigh": None})


def resolve(**fields):  # type: ignore[no-untyped-def]
    return resolve_budget(fields, DEFAULTS)


def test_no_fields_means_no_budget_and_server_strings() -> None:
    spec = resolve()
    assert not spec.is_active and spec.wait_string == "Wait" and spec.answer_prefix == "Final Answer:"


@pytest.mark.parametrize(
    ("fields", "maximum"),
    [
        ({"max_thinking_tokens": 7}, 7),
        ({"thinking_token_budget": 7}, 7),
        ({"thinking_token_budget": -1}, None),  # vLLM's unlimited
        ({"thinking": {"type": "enabled", "budget_tokens": 7}}, 7),
        ({"thinking": {"type": "disabled"}}, 0),
        ({"reasoning_effort": "low"}, 64),
        ({"reasoning_effort": "xhigh"}, None),
        ({"max_thinking_tokens": 64, "reasoning_effort": "low"}, 64),  # agreeing aliases are fine
    ],
)
def test_aliases_set_the_maximum(fields: dict, maximum: int | None) -> None:
    assert resolve(**fields).max_tokens == maximum


def test_conflicting_maxima_name_both_fields() -> None:
    with pytest.raises(APIError) as error:
        resolve(max_thinking_tokens=5, thinking={"type": "disabled"})
    assert error.value.param == "max_thinking_tokens,thinking" and "send one" in error.value.message


def test_vllms_unlimited_lifts_the_servers_maximum_and_conflicts_with_a_maximum() -> None:
    assert resolve_budget({"thinking_token_budget": -1}, BudgetDefaults(max_tokens=100)).max_tokens is None
    with pytest.raises(APIError) as error:
        resolve(thinking_token_budget=-1, max_thinking_tokens=5)
    assert error.value.param == "max_thinking_tokens,thinking_token_budget" and "(unlimited)" in error.value.message


def test_request_overrides_server_defaults() -> None:
    defaults = BudgetDefaults(min_tokens=10, max_tokens=100, min_waits=1, wait_string="Hmm")
    spec = resolve_budget({"min_thinking_waits": 0, "thinking_wait_string": "Wait"}, defaults)
    assert (spec.min_tokens, spec.max_tokens, spec.min_waits, spec.wait_string) == (10, 100, 0, "Wait")


def test_bad_combinations() -> None:
    with pytest.raises(APIError) as error:
        resolve(min_thinking_tokens=50, max_thinking_tokens=20)
    assert error.value.param == "min_thinking_tokens"
    with pytest.raises(APIError) as error:
        resolve(reasoning_effort="maximum")
    assert error.value.param == "reasoning_effort"
    with pytest.raises(APIError) as error:
        check_fits(resolve(min_thinking_tokens=30), 30, "max_tokens")
    assert error.value.param == "min_thinking_tokens"
