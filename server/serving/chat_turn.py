"""vLLM's chat extensions: which turn the reply takes, and what it shows.

``add_generation_prompt`` (default true) opens a new assistant turn after the messages;
``continue_final_message`` leaves the final message open instead (no end of turn after it) and the model
continues it. vLLM refuses both true. A continued message may hold an opened thinking many tokens back
(``<think>\\nQuick guess:``), so what the prompt did with the thinking is read over the whole message, not
over the prompt's last few tokens as for a generation prompt. ``echo`` starts the reply's content with the
final message's when that message has the reply's role (vLLM's rule: the reply's role is the assistant's
after a generation prompt, else the final message's); ``include_reasoning: false`` leaves the thinking out of
the reply while usage still counts it. A request's own ``chat_template`` needs the server's
``--trust-request-chat-template``, as in vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.protocol.chat import ChatCompletionRequest
from server.protocol.errors import APIError
from server.thinking.formats import PromptThinking


@dataclass(frozen=True)
class ChatReply:
    """How a chat reply is shown: its role, the text its content starts with, whether the thinking is in it."""

    role: str = "assistant"
    echo: str = ""
    include_reasoning: bool = True


def check_turn(request: ChatCompletionRequest, trust_chat_template: bool) -> None:
    """vLLM's refusals: a new turn and a continued one at once; a request's template the server does not trust."""
    if request.continue_final_message and request.add_generation_prompt:
        raise APIError(
            "continue_final_message continues the final message instead of opening a new turn; send "
            "add_generation_prompt: false with it (it defaults to true).",
            param="continue_final_message",
        )
    check_chat_template(request.chat_template, trust_chat_template)


def check_chat_template(chat_template: str | None, trusted: bool) -> None:
    """A request's template is taken only from clients the server trusts (vLLM's ``--trust-request-chat-template``):
    a template runs on the server."""
    if chat_template is not None and not trusted:
        raise APIError(
            "chat_template: a chat template in the request needs the server started with "
            "--trust-request-chat-template (vllm serve refuses it too without the flag).",
            param="chat_template",
        )


def chat_reply(request: ChatCompletionRequest) -> ChatReply:
    """vLLM's role and echo: without a generation prompt the reply continues the final message, in its role."""
    last = request.messages[-1]
    role = "assistant" if request.add_generation_prompt else last.role
    echo = last.text() if request.echo and last.role == role else ""
    return ChatReply(role, echo, request.include_reasoning)


def message_thinking(message: list[int], start: tuple[int, ...], end: int) -> PromptThinking:
    """``prompt_thinking``'s rule over a whole continued message: its last start delimiter opened the thinking
    unless the end token follows it; an end token alone closed it (unless it also begins every turn, as s1's)."""
    if not start:
        return PromptThinking.NONE
    width = len(start)
    for at in range(len(message) - width, -1, -1):
        if tuple(message[at : at + width]) == start:
            return PromptThinking.CLOSED if end in message[at + width :] else PromptThinking.OPEN
    if end in message and end != start[0]:
        return PromptThinking.CLOSED
    return PromptThinking.NONE
