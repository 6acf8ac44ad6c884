"""Server settings (pydantic-settings): CLI flags override ``THINKSERVE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.engine.types import Adapter
from server.ops.adapters import parse_lora_modules
from server.ops.chat_template import load_chat_template
from server.thinking.spec import EFFORT_BUDGETS, BudgetDefaults
from server.thinking.tokens import FormatChoice

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "models" / "tiny-reasoner"
SHIPPED_MODEL_NAME = "tiny-reasoner"


class Settings(BaseSettings):
    """What the HTTP front end needs; engine arguments travel separately (vLLM's own)."""

    model_config = SettingsConfigDict(env_prefix="THINKSERVE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    http_log_level: str = Field("info", description="uvicorn's and the front end's log level.")
    max_n: int = Field(16, ge=1, description="Largest `n` (choices per request) accepted.")
    max_stop_sequences: int = Field(8, ge=0, description="Most `stop` strings per request.")

    # Operations and security.
    api_key: SecretStr | None = Field(None, description="Accepted API keys, comma-separated (never logged).")
    api_key_file: Path | None = Field(None, description="A file of API keys, one per line, re-read on change.")
    auth_paths: list[str] = Field(default_factory=lambda: ["/v1"], description="Path prefixes that need a key.")
    max_concurrent_requests: int = Field(512, ge=1, description="Completions served at once; beyond: 429.")
    max_request_bytes: int = Field(16 * 2**20, ge=1024, description="Largest request body; beyond: 413.")
    max_messages: int = Field(2048, ge=1, description="Most chat messages per request.")
    enable_server_load_tracking: bool = Field(False, description="GET /load reports the requests in flight.")
    shutdown_grace_period: float = Field(30.0, ge=0, description="Seconds in-flight requests get after SIGTERM.")
    allowed_origins: list[str] = Field(default_factory=list, description="CORS origins (vLLM's default: none).")
    allowed_methods: list[str] = Field(default_factory=lambda: ["*"], description="CORS methods.")
    allowed_headers: list[str] = Field(default_factory=lambda: ["*"], description="CORS request headers.")
    allow_credentials: bool = Field(False, description="CORS: let browsers send cookies and credentials.")
    keep_alive_timeout: float = Field(
        65.0, gt=0, description="Idle keep-alive seconds; above clients' and load balancers' (httpx 5, ALB 60)."
    )

    # Thinking budget (s1 budget forcing): server defaults, each overridable per request.
    thinking_format: Literal["auto", "think", "mistral", "seed", "s1"] = "auto"
    thinking_start: str | None = Field(None, description="Start of thinking, with thinking_end (any family).")
    thinking_end: str | None = Field(None, min_length=1, description="End of thinking; its first token is guarded.")
    reasoning_parser: str | None = Field(None, description="vLLM's --reasoning-parser: names the delimiters.")
    min_thinking_tokens: int = Field(0, ge=0)
    max_thinking_tokens: int | None = Field(None, ge=0)
    min_thinking_waits: int = Field(0, ge=0)
    thinking_wait_string: str = Field("Wait", min_length=1)
    thinking_wait_strings: list[str] | None = Field(
        None, min_length=1, max_length=8, description="Wait strings used in turn (over thinking_wait_string)."
    )
    thinking_answer_prefix: str = "Final Answer:"
    thinking_end_grace: int = Field(0, ge=0, le=256, description="Tokens past the maximum to end a line or sentence.")
    thinking_wrapup_string: str | None = Field(None, min_length=1, description="Forced before a forced end.")
    thinking_loop_guard: bool = Field(False, description="A looping thinking is closed; no more waits are forced.")
    reasoning_effort_budgets: dict[str, int | None] = Field(default_factory=lambda: dict(EFFORT_BUDGETS))

    # Tool calling, with `vllm serve`'s flags (README "Tools and structured outputs").
    enable_auto_tool_choice: bool = Field(False, description='tool_choice "auto": the model decides, a parser reads.')
    tool_call_parser: str | None = Field(None, description="vLLM's tool parser that reads the model's tool calls.")
    tool_parser_plugin: str | None = Field(None, description="A file that registers a tool parser of your own.")
    trust_request_chat_template: bool = Field(
        False, description="Take a request's chat_template (vLLM's flag; off: such a request is a 400)."
    )

    # The chat template, as `vllm serve` takes it (README "vllm serve flags").
    chat_template: str | None = Field(None, description="Over the tokenizer's: a file, or the template inline.")
    default_chat_template_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Template arguments under each request's chat_template_kwargs."
    )
    root_path: str = Field("", description="The path prefix a proxy strips (uvicorn's root_path, in /docs' URLs).")

    # LoRA adapters served beside the base model, `vllm serve`'s --lora-modules items (README "LoRA adapters").
    lora_modules: list[str] = Field(default_factory=list, description="Adapters: name=path or JSON objects.")

    # How chat responses show the thinking (README "Thinking and answer").
    reasoning_field: Literal["reasoning_content", "reasoning", "both"] = Field(
        "reasoning_content", description="Where messages and deltas carry the thinking."
    )
    include_answer_prefix: bool = Field(False, description="Keep a forced answer prefix in the answer by default.")
    return_tokens_as_token_ids: bool = Field(False, description="Logprobs name tokens token_id:N (vLLM's flag).")

    # The Responses API's store (README "Responses API"): least recently used evicted beyond either bound.
    responses_store_max: int = Field(1024, ge=0, description="Responses kept for GET and previous_response_id.")
    responses_store_bytes: int = Field(64 * 2**20, ge=0, description="Bytes of stored responses, at most.")

    def api_keys(self) -> tuple[str, ...]:
        raw = self.api_key.get_secret_value() if self.api_key else ""
        return tuple(key.strip() for key in raw.split(",") if key.strip())

    def adapters(self) -> tuple[Adapter, ...]:
        """The ``lora_modules`` parsed and numbered (raises :class:`server.ops.adapters.AdapterError`)."""
        return parse_lora_modules(self.lora_modules)

    def server_chat_template(self) -> str | None:
        """``chat_template``'s text (None: the tokenizer's own); raises
        :class:`server.ops.chat_template.ChatTemplateError`."""
        return load_chat_template(self.chat_template)

    def format_choice(self) -> FormatChoice:
        return FormatChoice(self.thinking_format, self.thinking_start, self.thinking_end, self.reasoning_parser)

    def budget_defaults(self) -> BudgetDefaults:
        return BudgetDefaults(
            min_tokens=self.min_thinking_tokens,
            max_tokens=self.max_thinking_tokens,
            min_waits=self.min_thinking_waits,
            wait_string=tuple(self.thinking_wait_strings or (self.thinking_wait_string,)),
            answer_prefix=self.thinking_answer_prefix,
            end_grace=self.thinking_end_grace,
            wrapup=self.thinking_wrapup_string or "",
            loop_guard=self.thinking_loop_guard,
            effort_budgets=dict(self.reasoning_effort_budgets),
        )
