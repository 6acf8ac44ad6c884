"""A Responses request's ``input`` as chat messages: the one place that reads OpenAI's input items.

Messages keep their role; their text parts (``input_text``, ``output_text``, a ``refusal``) are joined, and
other parts are a 400 (this server takes text only). Consecutive assistant-side items (``reasoning``, an
assistant message, ``function_call`` items) are one assistant message, as chat templates expect a turn:
the thinking its ``reasoning_content``, the calls its ``tool_calls``. A ``function_call_output`` is a ``tool``
message, named after its call. Any other kind of item is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from server.protocol.errors import APIError
from server.protocol.responses import ContentPart, InputItem


def input_messages(items: str | list[InputItem] | None, earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``input`` as chat messages. Consecutive assistant items (reasoning, message, function calls) are one
    assistant message, as chat templates expect a turn; a call's output is a ``tool`` message named after it."""
    if items is None:
        return []
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    names = {call["id"]: call["function"]["name"] for m in earlier for call in m.get("tool_calls") or []}
    out: list[dict[str, Any]] = []
    turn: dict[str, Any] | None = None

    def assistant(starts_anew: bool) -> dict[str, Any]:
        nonlocal turn
        if turn is None or starts_anew:
            turn = {"role": "assistant", "content": None}
            out.append(turn)
        return turn

    for i, item in enumerate(items):
        where = f"input.{i}"
        if item.type == "message" and item.role != "assistant":
            turn = None
            role = _required(item.role, f"{where}.role")
            out.append(
                {"role": role, "content": _text(_required(item.content, f"{where}.content"), f"{where}.content")}
            )
        elif item.type == "message":
            message = assistant(turn is not None and (turn["content"] is not None or "tool_calls" in turn))
            message["content"] = _text(_required(item.content, f"{where}.content"), f"{where}.content")
        elif item.type == "reasoning":
            anew = turn is not None and (
                turn["content"] is not None or {"tool_calls", "reasoning_content"} & turn.keys()
            )
            assistant(bool(anew))["reasoning_content"] = _reasoning(item, where)
        elif item.type == "function_call":
            call_id, name = _required(item.call_id, f"{where}.call_id"), _required(item.name, f"{where}.name")
            arguments = _required(item.arguments, f"{where}.arguments")
            call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            assistant(False).setdefault("tool_calls", []).append(call)
            names[call_id] = name
        elif item.type == "function_call_output":
            turn = None
            call_id = _required(item.call_id, f"{where}.call_id")
            output = _text(_required(item.output, f"{where}.output"), f"{where}.output")
            out.append({"role": "tool", "tool_call_id": call_id, "content": output}
                       | ({"name": names[call_id]} if call_id in names else {}))  # fmt: skip
        else:
            raise APIError(
                f"{where}.type: `{item.type[:64]}` items are not supported; this server takes messages, "
                "function_call, function_call_output and reasoning items.",
                param=f"{where}.type",
            )
    return out


def _required(value: Any, param: str) -> Any:
    if value is None:
        raise APIError(f"{param}: this field is required for this item.", param=param)
    return value


def _text(content: str | list[ContentPart], where: str) -> str:
    """Text parts (``input_text``, ``output_text``, a ``refusal``) joined; other kinds are a 400: text only."""
    if isinstance(content, str):
        return content
    texts = []
    for j, part in enumerate(content):
        if part.type in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            texts.append(_required(part.text, f"{where}.{j}.text"))
        elif part.type == "refusal":
            texts.append(_required(part.refusal, f"{where}.{j}.refusal"))
        else:
            raise APIError(f"{where}.{j}: this model takes text only; `{part.type[:64]}` parts are not supported.",
                           param=f"{where}.{j}")  # fmt: skip
    return "".join(texts)


def _reasoning(item: InputItem, where: str) -> str:
    """A reasoning item's thinking: its ``content``, else its ``summary`` (from a server that only summarizes)."""
    if item.encrypted_content is not None:
        raise APIError(f"{where}.encrypted_content: encrypted reasoning cannot be read here; send its content.",
                       param=f"{where}.encrypted_content")  # fmt: skip
    if item.content:
        return _text(item.content, f"{where}.content")
    return _text(item.summary or [], f"{where}.summary")
