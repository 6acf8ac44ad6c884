"""The one object the routes depend on: settings, the engine and what is derived from them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

from fastapi import Depends, Request

from server.access_log import note
from server.budget_request import BudgetDefaults
from server.engine import Engine
from server.errors import APIError, engine_unavailable
from server.metrics import ServerMetrics
from server.reasoning import ThinkingDelimiters
from server.sampling import Limits
from server.settings import Settings
from server.thinking_format import ThinkingTokens, resolve_thinking_tokens


@dataclass
class ServerContext:
    """Built once the engine runs; resolving ``thinking`` fails startup for a model without delimiters."""

    settings: Settings
    engine: Engine
    metrics: ServerMetrics
    thinking: ThinkingTokens = field(init=False)
    budget_defaults: BudgetDefaults = field(init=False)

    def __post_init__(self) -> None:
        tokens = resolve_thinking_tokens(self.tokenizer, self.settings.thinking_format, self.engine.eos_token_ids)
        self.thinking = tokens
        self.budget_defaults = self.settings.budget_defaults()

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    @property
    def delimiters(self) -> ThinkingDelimiters:
        return self.thinking.format.delimiters

    @property
    def end_token_id(self) -> int:
        return self.thinking.end

    @cached_property
    def limits(self) -> Limits:
        return Limits.of(self.settings, self.engine.max_model_len)

    def resolve_model(self, requested: str | None) -> str:
        """The served name the request asked for (the first one when it names none)."""
        names = self.engine.model_names
        if requested is None:
            return names[0]
        if requested not in names:
            raise APIError(
                f"The model `{requested}` does not exist; this server serves {', '.join(names)}.",
                status=404,
                param="model",
                code="model_not_found",
            )
        return requested

    def first_token_sent(self, model: str, arrived: float) -> None:
        """A streamed request sent its first token (``arrived``: ``time.monotonic()`` at arrival)."""
        seconds = time.monotonic() - arrived
        self.metrics.record_first_token(model, seconds)
        note(ttft_ms=round(1000 * seconds, 1))

    def require_healthy_engine(self) -> None:
        if not self.engine.is_healthy:
            raise engine_unavailable()


def new_request_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def get_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


Context = Annotated[ServerContext, Depends(get_context)]
