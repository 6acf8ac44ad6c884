"""What the tool, Responses and Messages client tests share: one server (one engine start instead of three), its
key, the ``add`` tool's parameters.

It runs with an API key, as a deployment would, so every client here also shows it sends its key
(``Authorization: Bearer`` for openai's and LangChain's, ``x-api-key`` for anthropic's).
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from bench.server_process import running_server

KEY = "sk-thinkserve-clients"
# ``def add(a: int, b: int)``: the tool every client offers, in each API's own wrapping.
ADD_PARAMETERS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}


@pytest.fixture(scope="package")
def served() -> Iterator[str]:
    """The shared server's base URL (no ``/v1``), alive while ``tests/clients`` runs."""
    with running_server("--api-key", KEY) as url:
        yield url


@pytest.fixture(scope="package")
def v1(served: str) -> str:
    return f"{served}/v1"


@pytest.fixture
def sdk(v1: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=v1, api_key=KEY, max_retries=0, timeout=120)
