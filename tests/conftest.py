from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings

from server.api.app import create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine

# The same examples on every run, so CI never fails by the draw; HYPOTHESIS_PROFILE=explore searches new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def client(engine: FakeEngine) -> Iterator[TestClient]:
    # As the shipped model is served: tool_choice "auto" read by vLLM's hermes parser.
    settings = Settings(enable_auto_tool_choice=True, tool_call_parser="hermes")
    with TestClient(create_app(settings, engine.lifetime)) as test_client:
        yield test_client
