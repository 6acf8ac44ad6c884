"""One generation's thinking plan: what the logits processor, the front end's tracker and the report share.

A :class:`GenerationPlan` is fixed when a request is accepted: its budget in token ids (or
none; with the tool-call start token when the request offers tools), whether the prompt already
opened the thinking (or closed it), and the answer prefix as text (what the front end strips
from the answer). It travels to the engine in ``SamplingParams.extra_args[KEY]`` as plain JSON
types and is read back there by :meth:`GenerationPlan.from_extra_args`.

Pure: no torch, no vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.thinking.budget import Budget

KEY = "thinking_budget"  # SamplingParams.extra_args[KEY]


@dataclass(frozen=True)
class GenerationPlan:
    budget: Budget | None
    opens_thinking: bool
    answer_prefix: str = ""
    # The request asked for a budget but its prompt closed the thinking (enable_thinking: false): nothing to
    # enforce, and the report says so. The front end's alone: it never reaches the engine.
    thinking_off: bool = False

    def to_extra_args(self) -> dict[str, Any] | None:
        """``SamplingParams.extra_args`` for the logits processor; None without a budget (it then costs nothing)."""
        b = self.budget
        if b is None:
            return None
        beyond_s1 = {
            "more_waits": [list(w) for w in b.more_waits], "end_grace": b.end_grace, "wrapup": list(b.wrapup),
            "loop_guard": b.loop_guard,
        }  # the boundary set a grace reads is the server's: the engine resolves its own  # fmt: skip
        return {KEY: {
            "end": b.end, "eos": sorted(b.eos), "wait": list(b.wait), "closing": list(b.closing),
            "start": list(b.start), "min_tokens": b.min_tokens, "max_tokens": b.max_tokens,
            "min_waits": b.min_waits, "tool_open": b.tool_open, "opens": self.opens_thinking,
            **{name: value for name, value in beyond_s1.items() if value},  # absent when off: as before them
        }}  # fmt: skip

    @classmethod
    def from_extra_args(cls, extra_args: dict[str, Any] | None) -> GenerationPlan | None:
        """The plan a request carries, None when it has no budget; raises KeyError/TypeError/ValueError if malformed."""
        args = (extra_args or {}).get(KEY)
        if args is None:
            return None
        budget = Budget(
            end=int(args["end"]), eos=frozenset(int(t) for t in args["eos"]), wait=tuple(args["wait"]),
            closing=tuple(args["closing"]), start=tuple(args["start"]), min_tokens=int(args["min_tokens"]),
            max_tokens=None if args["max_tokens"] is None else int(args["max_tokens"]),
            min_waits=int(args["min_waits"]),
            tool_open=None if args.get("tool_open") is None else int(args["tool_open"]),  # absent: an older plan
            more_waits=tuple(tuple(int(t) for t in w) for w in args.get("more_waits", ())),
            end_grace=int(args.get("end_grace", 0)), wrapup=tuple(int(t) for t in args.get("wrapup", ())),
            loop_guard=bool(args.get("loop_guard", False)),
        )  # fmt: skip
        return cls(budget, bool(args["opens"]))
