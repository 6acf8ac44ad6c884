"""What the serving layer hands the engine and what it gets back: plain dataclasses, no vLLM.

The adapter (:mod:`server.engine.vllm_engine`) turns an :class:`EngineRequest` into vLLM's
``SamplingParams`` and vLLM's ``RequestOutput`` into :class:`EngineOutput`, so the serving
code, and the fake engine of the tests, never import vLLM.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Constraint:
    """A grammar the answer must follow (vLLM's structured outputs), applied once the thinking has ended.

    ``kind`` names the one constraint, as vLLM's ``StructuredOutputsParams`` spells it (json, regex, choice,
    grammar, json_object, structural_tag); ``options`` are its other settings (disable_any_whitespace, …).
    """

    kind: str
    value: Any
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Sampling:
    """How to decode one prompt; plain values, checked by the serving layer before they get here."""

    max_tokens: int
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: all
    min_p: float = 0.0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    min_tokens: int = 0
    ignore_eos: bool = False
    logprobs: int | None = None  # None: none; k: the sampled token and the k most likely
    prompt_logprobs: int | None = None  # None: none; k: each prompt token's and the k most likely (-1: all)
    stop: tuple[str, ...] = ()  # matched by the engine (the front end matches its own, see serving.choice)
    stop_token_ids: tuple[int, ...] = ()
    logit_bias: dict[int, float] | None = None
    skip_special_tokens: bool = True
    deltas: bool = False  # an output per step with the new tokens; else one output at the end
    extra_args: dict[str, Any] | None = None  # for the budget's logits processor (and a request's vllm_xargs)
    constraint: Constraint | None = None
    bad_words: tuple[str, ...] = ()
    allowed_token_ids: tuple[int, ...] | None = None  # None: every token
    spaces_between_special_tokens: bool = True
    include_stop_str_in_output: bool = False  # the engine's stop strings and stop tokens: their text stays


@dataclass(frozen=True)
class FunctionCall:
    """A tool call found in an answer: the function's name and its arguments as JSON text."""

    name: str
    arguments: str
    id: str | None = None  # the parser's own id, when the model's format carries one


class ToolCallParser(Protocol):
    """Finds the tool calls in an answer's text (vLLM's tool parsers behind it: :mod:`server.engine.tool_calls`)."""

    @property
    def name(self) -> str: ...

    @property
    def start_marker(self) -> str | None:
        """The text that opens a tool call (``<tool_call>``), when the format has one."""
        ...

    def parse(self, text: str, tools: list[dict[str, Any]]) -> tuple[str | None, list[FunctionCall]]:
        """The answer's text without its tool calls (None: nothing else), and the calls in order."""
        ...


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter served beside the base model (``--lora-modules``), as vLLM's ``LoRARequest`` names it.

    ``id`` is unique in this server (from 1): vLLM's engine caches the adapter's weights by it.
    """

    name: str
    id: int
    path: str
    base_model_name: str | None = None  # the served base model it was trained on (None: the first one)
    is_3d_lora_weight: bool = False  # vLLM's: fused MoE experts stored as 3D tensors


@dataclass(frozen=True)
class EngineRequest:
    request_id: str
    prompt_ids: list[int]
    sampling: Sampling
    adapter: Adapter | None = None  # None: the base model
    priority: int = 0  # vLLM's: lower is scheduled earlier (with --scheduling-policy priority)
    cache_salt: str | None = None  # vLLM's: the prompt's prefix-cache blocks are keyed by it too


@dataclass(frozen=True)
class TokenLogprob:
    logprob: float
    rank: int | None = None
    text: str | None = None  # the token decoded, when the engine did it


Logprobs = list[dict[int, TokenLogprob]]  # per output token: the sampled token and the top candidates, by id
# Per prompt token: the token itself and the top candidates; None for the first (nothing precedes it), as vLLM's.
PromptLogprobs = list[dict[int, TokenLogprob] | None]


@dataclass
class ChoiceOutput:
    """What one choice produced since its previous output (all of it, for a final-only request)."""

    index: int
    text: str
    token_ids: list[int]
    logprobs: Logprobs | None = None
    finish_reason: str | None = None  # "stop", "length", "abort"
    stop_reason: str | int | None = None  # the stop string or token that ended it


@dataclass
class EngineOutput:
    choices: list[ChoiceOutput] = field(default_factory=list)
    finished: bool = False
    cached_tokens: int = 0  # the prompt's tokens found in the prefix cache (vLLM's ``num_cached_tokens``)
    prompt_logprobs: PromptLogprobs | None = None  # with the first output, when the sampling asked for them


class Engine(Protocol):
    """The engine as the serving layer sees it; tests substitute a fake."""

    @property
    def model_names(self) -> list[str]: ...

    @property
    def max_model_len(self) -> int: ...

    @property
    def model_path(self) -> str:
        """What the engine loaded: the model's directory or hub id (``root`` of ``/v1/models``)."""
        ...

    @property
    def tokenizer(self) -> Any: ...

    @property
    def eos_token_ids(self) -> set[int]:
        """Every token id that ends a request (the tokenizer's and the generation config's)."""
        ...

    @property
    def is_healthy(self) -> bool: ...

    @property
    def scheduling_policy(self) -> str:
        """vLLM's ``--scheduling-policy``: ``fcfs`` or ``priority`` (only the latter takes a request's priority)."""
        ...

    def generate(self, request: EngineRequest) -> AsyncIterator[EngineOutput]:
        """Outputs as the engine makes them; closing the iterator aborts the request.

        Raises :class:`server.protocol.errors.APIError` for a request the engine refuses (400) or when
        the engine is dead (503).
        """
        ...

    async def log_stats(self) -> None:
        """Log the engine's throughput, queue and KV-cache line (called periodically)."""
        ...
