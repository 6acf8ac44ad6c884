"""Token logprobs (``(token id, candidates)`` per position) in OpenAI's chat and completions shapes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from server.engine.types import TokenLogprob
from server.protocol.chat import TokenLogprob as WireTokenLogprob
from server.protocol.chat import TopLogprob
from server.protocol.completions import CompletionLogprobs

Position = tuple[int, dict[int, TokenLogprob]]


def _text(tokenizer: Any, token_id: int, logprob: TokenLogprob) -> str:
    return logprob.text if logprob.text is not None else tokenizer.decode([token_id])


def _positions(
    tokenizer: Any, positions: Sequence[Position], top: int
) -> Iterator[tuple[str, float, list[tuple[str, float]]]]:
    """Per sampled token: its text, its logprob, and the ``top`` most likely (text, logprob)."""
    for token_id, candidates in positions:
        if not candidates:
            continue
        ranked = sorted(candidates.items(), key=lambda item: item[1].rank or 0)[:top]
        alternatives = [(_text(tokenizer, tid, lp), lp.logprob) for tid, lp in ranked]
        yield _text(tokenizer, token_id, candidates[token_id]), candidates[token_id].logprob, alternatives


def chat_logprobs(tokenizer: Any, positions: Sequence[Position] | None, top: int) -> list[WireTokenLogprob] | None:
    if positions is None:
        return None
    return [
        WireTokenLogprob(
            token=text,
            logprob=logprob,
            bytes=list(text.encode()),
            top_logprobs=[TopLogprob(token=t, logprob=lp, bytes=list(t.encode())) for t, lp in alternatives],
        )
        for text, logprob, alternatives in _positions(tokenizer, positions, top)
    ]


def completion_logprobs(
    tokenizer: Any, positions: Sequence[Position] | None, top: int, offset: int = 0
) -> CompletionLogprobs | None:
    if positions is None:
        return None
    result = CompletionLogprobs()
    for text, logprob, alternatives in _positions(tokenizer, positions, top):
        result.tokens.append(text)
        result.token_logprobs.append(logprob)
        result.top_logprobs.append(dict(alternatives))
        result.text_offset.append(offset)
        offset += len(text)
    return result
