"""The adapters read the boundary set from the engine's tokenizer: here, the scripted one (scripted.BOUNDARIES)."""

from __future__ import annotations

import pytest

from tests.engine.forcing.scripted import BoundaryTokenizer


@pytest.fixture(autouse=True)
def engine_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("server.engine.forcing.v1", "server.engine.forcing.v2"):
        monkeypatch.setattr(f"{module}.engine_tokenizer", lambda _config: BoundaryTokenizer())
