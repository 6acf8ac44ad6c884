"""One server on the shipped model for the end-to-end modules that need no special flags."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from bench.server_process import running_server


@pytest.fixture(scope="package")
def base_url() -> Iterator[str]:
    with running_server() as url:
        yield url


@pytest.fixture(scope="package")
def sdk(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)
