"""Tools: the choice a request makes, the grammar it needs, and the calls its answer holds.

- ``tool_choice: "none"``: the template still shows the tools (as ``vllm serve`` does); no call is read;
- ``"auto"`` (the default with tools): the model decides; vLLM's tool parser (``--tool-call-parser``,
  needs ``--enable-auto-tool-choice``) reads the calls from the answer;
- ``"required"`` / a named function: a JSON grammar after the thinking makes the answer the call(s),
  as vLLM does (``[{"name": …, "parameters": …}]`` / the function's arguments).

Legacy ``functions`` / ``function_call`` are the same with another spelling; their answer is a
``function_call``. The thinking is never parsed for calls: a call the model opens inside its thinking
ends the thinking (:mod:`server.thinking.budget`), so it is part of the answer.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from server.engine.types import Constraint, FunctionCall, ToolCallParser
from server.protocol.chat import ChatCompletionRequest
from server.protocol.errors import APIError
from server.protocol.tools import FunctionName, NamedToolChoice, Tool

Mode = Literal["none", "auto", "required", "named"]
NO_ARGUMENTS = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class ToolPlan:
    tools: list[dict[str, Any]]  # OpenAI's shape, as chat templates and vLLM's parsers take them
    mode: Mode
    name: str | None = None  # the named function
    parallel: bool = True
    legacy: bool = False  # asked with ``functions``: answered with ``function_call``
    parser: ToolCallParser | None = None

    @property
    def shapes_answer(self) -> bool:
        """The answer may be a call: a forced end of thinking then carries no answer prefix."""
        return self.mode != "none"

    def constraint(self) -> Constraint | None:
        """The grammar of a required or named choice (applied once the thinking has ended)."""
        functions = {t["function"]["name"]: t["function"].get("parameters") or NO_ARGUMENTS for t in self.tools}
        if self.mode == "named":
            assert self.name is not None
            return Constraint("json", functions[self.name])
        if self.mode != "required":
            return None
        calls = [
            {"type": "object", "properties": {"name": {"type": "string", "enum": [name]}, "parameters": schema},
             "required": ["name", "parameters"]}
            for name, schema in functions.items()
        ]  # fmt: skip
        array: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"anyOf": calls}}
        if not self.parallel:
            array["maxItems"] = 1
        return Constraint("json", array)

    def calls(self, answer: str) -> tuple[str | None, list[FunctionCall]]:
        """The answer's text left once its calls are taken out (None: nothing), and the calls."""
        if self.mode == "none":
            return answer, []
        if self.mode == "named":
            assert self.name is not None
            return (None, [FunctionCall(self.name, answer.strip())]) if answer.strip() else (answer, [])
        if self.mode == "required":
            return _required_calls(answer)
        assert self.parser is not None
        content, found = self.parser.parse(answer, self.tools)
        return content, found if self.parallel else found[:1]


def _required_calls(answer: str) -> tuple[str | None, list[FunctionCall]]:
    """``[{"name": …, "parameters": {…}}, …]``; anything else (a length cut) stays text."""
    try:
        items = json.loads(answer)
        calls = [FunctionCall(item["name"], json.dumps(item["parameters"], ensure_ascii=False)) for item in items]
    except (ValueError, TypeError, KeyError):
        return answer, []
    return None, calls


def call_id() -> str:
    return f"chatcmpl-tool-{uuid.uuid4().hex}"


def plan_tools(request: ChatCompletionRequest, parser: ToolCallParser | None) -> ToolPlan | None:
    """The request's tools and tool choice, checked; None when it offers none."""
    tools, choice, legacy = request.tools, request.tool_choice, False
    choice_param, tools_param = "tool_choice", "tools"
    if request.functions is not None or request.function_call is not None:
        if tools is not None or choice is not None:
            raise APIError("send tools and tool_choice, or the legacy functions and function_call, not both.",
                           param="functions")  # fmt: skip
        tools = [Tool(type="function", function=f) for f in request.functions or []]
        choice, legacy, choice_param, tools_param = request.function_call, True, "function_call", "functions"
    if not tools:
        if choice not in (None, "none"):
            raise APIError(f"{choice_param} needs tools to choose from.", param=choice_param)
        return None
    names = [tool.function.name for tool in tools]
    if len(set(names)) < len(names):
        raise APIError(f"{tools_param}: two functions have the same name.", param=tools_param)
    mode, name = _mode(choice, names, choice_param)
    if mode == "auto" and parser is None:
        raise APIError(
            f'{choice_param} "auto" (the default with {tools_param}) needs a server started with '
            '--enable-auto-tool-choice and --tool-call-parser, as vllm serve does; "required" or a named function '
            "works without them.",
            param=choice_param if choice is not None else tools_param,
        )
    return ToolPlan(
        [tool.model_dump(exclude_none=True) for tool in tools], mode, name,
        parallel=request.parallel_tool_calls is not False, legacy=legacy, parser=parser if mode == "auto" else None,
    )  # fmt: skip


def _mode(choice: Any, names: list[str], param: str) -> tuple[Mode, str | None]:
    if choice is None:
        return "auto", None
    if isinstance(choice, NamedToolChoice | FunctionName):
        name = choice.function.name if isinstance(choice, NamedToolChoice) else choice.name
        if name not in names:
            raise APIError(f"{param} names {name!r}, which is not among the tools ({', '.join(names)}).", param=param)
        return "named", name
    mode: Mode = choice
    return mode, None
