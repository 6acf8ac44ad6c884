"""What the client libraries must not do in tests: fetch litellm's cost map, upload openai-agents' traces."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else litellm fetches its cost map on import

from agents import set_tracing_disabled

from tests.clients.served import sdk, served, v1  # noqa: F401  (fixtures: the server the client tests share)

set_tracing_disabled(True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every client test runs against the real engine; litellm's TypedDicts warn under pydantic."""
    for item in items:
        if "tests/clients/" in str(item.path):
            item.add_marker(pytest.mark.engine)
            item.add_marker(pytest.mark.filterwarnings("ignore:Item .* ReadOnly:UserWarning"))
