"""``POST /tokenize`` and ``POST /detokenize``: vLLM's tokenizer endpoints, their requests and responses.

`vllm serve` takes two request shapes at ``/tokenize``: a text form (``prompt``) and a chat form
(``messages``, rendered by the chat template as the chat endpoint renders them). Here they are one model,
the form chosen by which of the two fields is sent; a field of the other form is refused by name, not
ignored. ``add_special_tokens`` keeps vLLM's defaults: true for text, false for chat (the template
writes the special tokens itself).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from server.protocol.chat import ChatMessage
from server.protocol.common import RequestModel
from server.protocol.tools import Tool

# Fields of the chat form only: sent with `prompt`, each is a 400 naming it.
CHAT_ONLY = ("add_generation_prompt", "continue_final_message", "chat_template", "chat_template_kwargs", "tools",
             "media_io_kwargs", "mm_processor_kwargs")  # fmt: skip


class TokenizeRequest(RequestModel):
    model: str | None = Field(None, description="A served model name; defaults to the first.")
    prompt: str | None = Field(None, description="Text form: the text to tokenize.")
    messages: list[ChatMessage] | None = Field(
        None, min_length=1, description="Chat form: messages rendered by the model's chat template."
    )
    add_special_tokens: bool | None = Field(
        None, description="The tokenizer's special tokens (BOS) on top; default true for text, false for chat."
    )
    return_token_strs: bool | None = Field(False, description="Also return each token as the vocabulary spells it.")
    add_generation_prompt: bool = Field(True, description="Chat form: end with the assistant's turn opened.")
    continue_final_message: bool = Field(
        False, description="Chat form: leave the last (assistant) message open; needs add_generation_prompt false."
    )
    chat_template_kwargs: dict[str, Any] | None = Field(None, description="Chat form: keyword arguments.")
    tools: list[Tool] | None = Field(None, description="Chat form: functions the template shows the model.")
    chat_template: str | None = Field(
        None, description="Chat form: a Jinja template for this request; needs --trust-request-chat-template."
    )
    media_io_kwargs: dict[str, Any] | None = Field(None, description="Refused: this server takes text only.")
    mm_processor_kwargs: dict[str, Any] | None = Field(None, description="Refused: this server takes text only.")


class TokenizeResponse(BaseModel):
    count: int = Field(description="The number of tokens.")
    max_model_len: int = Field(description="The engine's context length.")
    tokens: list[int]
    token_strs: list[str] | None = Field(None, description="With return_token_strs: each token's spelling.")


class DetokenizeRequest(RequestModel):
    model: str | None = Field(None, description="A served model name; defaults to the first.")
    tokens: list[int] = Field(description="Token ids of the model's vocabulary.")


class DetokenizeResponse(BaseModel):
    prompt: str = Field(description="The ids decoded, special tokens included.")
