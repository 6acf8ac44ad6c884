"""The one object the routes depend on: settings, the engine and what is derived from them."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

from fastapi import Depends, Request

from server.engine.types import Adapter, Engine, ToolCallParser
from server.ops.access_log import note
from server.ops.adapters import check_served_names
from server.ops.metrics import ServerMetrics
from server.ops.settings import Settings
from server.protocol.errors import APIError, engine_unavailable
from server.serving.limits import Limits
from server.serving.response_store import ResponseStore
from server.thinking.boundaries import boundary_ids
from server.thinking.spec import BudgetDefaults
from server.thinking.tokens import ThinkingTokens, resolve_thinking_tokens

logger = logging.getLogger(__name__)


@dataclass
class ServerContext:
    """Built once the engine runs; resolving ``thinking`` fails startup for a model without delimiters."""

    settings: Settings
    engine: Engine
    metrics: ServerMetrics
    thinking: ThinkingTokens = field(init=False)
    budget_defaults: BudgetDefaults = field(init=False)
    tool_parser: ToolCallParser | None = field(init=False)  # for tool_choice "auto"
    response_store: ResponseStore = field(init=False)  # the Responses API's stored responses
    adapters: dict[str, Adapter] = field(init=False)  # LoRA adapters by served name (--lora-modules)

    def __post_init__(self) -> None:
        template = self.settings.server_chat_template()
        if template is not None:
            # --chat-template replaces the tokenizer's own, as transformers documents it: every render (chat,
            # /tokenize, Messages, Responses) and the thinking's resolution below (s1's template) read it there;
            # a request's chat_template, passed to each render, still wins. The front end renders all prompts.
            self.tokenizer.chat_template = template
            logger.info("chat template: --chat-template's, over the tokenizer's")
        tokens = resolve_thinking_tokens(self.tokenizer, self.settings.format_choice(), self.engine.eos_token_ids)
        self.thinking = tokens
        self.budget_defaults = self.settings.budget_defaults()
        self.tool_parser = load_tool_parser(self.settings, self.tokenizer)
        self.response_store = ResponseStore(self.settings.responses_store_max, self.settings.responses_store_bytes)
        adapters = self.settings.adapters()
        check_served_names(adapters, self.engine.model_names)
        self.adapters = {adapter.name: adapter for adapter in adapters}
        self.metrics.serve_models(self.adapters)  # each adapter's series at 0, as each base model's
        for adapter in adapters:
            logger.info("LoRA adapter %s (%s) on %s", adapter.name, adapter.path, self.parent(adapter))

    def describe_tools(self) -> str:
        if self.tool_parser is None:
            return 'tool calls: "required" and named tool choices only (no --enable-auto-tool-choice)'
        return f"tool calls: read by vLLM's {self.tool_parser.name!r} parser (auto tool choice on)"

    @property
    def template_defaults(self) -> dict[str, Any]:
        """--default-chat-template-kwargs: under each request's chat_template_kwargs."""
        return self.settings.default_chat_template_kwargs

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    @cached_property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @cached_property
    def boundaries(self) -> frozenset[int]:
        """The tokens that end a line or a sentence (a graceful maximum's), resolved at the first request with one."""
        return boundary_ids(self.tokenizer)

    @cached_property
    def special_ids(self) -> frozenset[int]:
        """Tokens never shown as part of an answer: EOS and the tokenizer's special tokens."""
        return self.thinking.eos | frozenset(getattr(self.tokenizer, "all_special_ids", ()))

    @cached_property
    def limits(self) -> Limits:
        return Limits.of(self.settings, self.engine.max_model_len)

    @property
    def served_names(self) -> list[str]:
        """Every model id a request may name: the base model's served names, then the adapters'."""
        return [*self.engine.model_names, *self.adapters]

    def resolve_model(self, requested: str | None) -> str:
        """The served name the request asked for (the first one when it names none): a base model's or an
        adapter's (:meth:`adapter` gives its adapter; metrics and replies carry the adapter's name)."""
        names = self.served_names
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

    def adapter(self, model: str) -> Adapter | None:
        """The LoRA adapter a resolved model id runs with (None: the base model)."""
        return self.adapters.get(model)

    def parent(self, adapter: Adapter) -> str:
        """The served base model an adapter applies to (``parent`` of its model card, as vLLM's)."""
        return adapter.base_model_name or self.engine.model_names[0]

    def first_token_sent(self, model: str, arrived: float) -> None:
        """A streamed request sent its first token (``arrived``: ``time.monotonic()`` at arrival)."""
        seconds = time.monotonic() - arrived
        self.metrics.record_first_token(model, seconds)
        note(ttft_ms=round(1000 * seconds, 1))

    def require_healthy_engine(self) -> None:
        if not self.engine.is_healthy:
            raise engine_unavailable()


def load_tool_parser(settings: Settings, tokenizer: Any) -> ToolCallParser | None:
    """vLLM's tool parser for ``tool_choice: "auto"``, as ``vllm serve`` takes the flags; fails startup if unusable."""
    if not settings.enable_auto_tool_choice:
        return None
    from server.engine.tool_calls import ToolParserError, VllmToolParser

    if not settings.tool_call_parser:
        raise ToolParserError("--enable-auto-tool-choice needs --tool-call-parser (the model's tool-call format).")
    return VllmToolParser(settings.tool_call_parser, tokenizer, settings.tool_parser_plugin)


def new_request_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def get_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


Context = Annotated[ServerContext, Depends(get_context)]
