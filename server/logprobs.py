"""vLLM's per-token logprobs (``list[dict[token_id, Logprob]]``) in OpenAI's two shapes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from server.protocol.chat import ChoiceLogprobs, TokenLogprob, TopLogprob
from server.protocol.completions import CompletionLogprobs

Positions = Sequence[dict[int, Any] | None]


def _text(tokenizer: Any, token_id: int, logprob: Any) -> str:
    return logprob.decoded_token if logprob.decoded_token is not None else tokenizer.decode([token_id])


def _positions(
    tokenizer: Any, token_ids: Sequence[int], logprobs: Positions, top: int
) -> Iterator[tuple[str, float, list[tuple[str, float]]]]:
    """Per sampled token: its text, its logprob, and the ``top`` most likely (text, logprob)."""
    for token_id, position in zip(token_ids, logprobs, strict=False):
        if not position:
            continue
        ranked = sorted(position.items(), key=lambda item: item[1].rank or 0)[:top]
        alternatives = [(_text(tokenizer, tid, lp), lp.logprob) for tid, lp in ranked]
        yield _text(tokenizer, token_id, position[token_id]), position[token_id].logprob, alternatives


def chat_logprobs(
    tokenizer: Any, token_ids: Sequence[int], logprobs: Positions | None, top: int
) -> ChoiceLogprobs | None:
    if logprobs is None:
        return None
    content = [
        TokenLogprob(
            token=text,
            logprob=logprob,
            bytes=list(text.encode()),
            top_logprobs=[TopLogprob(token=t, logprob=lp, bytes=list(t.encode())) for t, lp in alternatives],
        )
        for text, logprob, alternatives in _positions(tokenizer, token_ids, logprobs, top)
    ]
    return ChoiceLogprobs(content=content)


def completion_logprobs(
    tokenizer: Any, token_ids: Sequence[int], logprobs: Positions | None, top: int, offset: int = 0
) -> CompletionLogprobs | None:
    if logprobs is None:
        return None
    result = CompletionLogprobs()
    for text, logprob, alternatives in _positions(tokenizer, token_ids, logprobs, top):
        result.tokens.append(text)
        result.token_logprobs.append(logprob)
        result.top_logprobs.append(dict(alternatives))
        result.text_offset.append(offset)
        offset += len(text)
    return result
