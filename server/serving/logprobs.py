"""Token logprobs in OpenAI's chat and completions shapes, and vLLM's prompt logprobs, rendered as vLLM renders them.

A position is ``(token id, candidates)``: the token the choice took (or the prompt holds) and the engine's
candidates by id, that token among them; ``None`` candidates for a prompt's first token, which nothing
precedes (null logprobs, as vLLM's). As `vllm serve` answers: a logprob of -inf is -9999.0; with
``return_tokens_as_token_ids`` each token is named ``token_id:N``; a completion's ``top_logprobs`` hold the
sampled token and the k most likely (OpenAI's "up to logprobs + 1"; ``logprobs: 0``: the sampled token
alone); a chat token's ``top_logprobs`` the k most likely (``top_logprobs: 0``: none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.engine.types import PromptLogprobs, TokenLogprob
from server.protocol.chat import TokenLogprob as WireTokenLogprob
from server.protocol.chat import TopLogprob
from server.protocol.completions import CompletionLogprobs
from server.protocol.logprobs import LOGPROB_FLOOR, PromptLogprob
from server.protocol.logprobs import PromptLogprobs as WirePromptLogprobs

Position = tuple[int, dict[int, TokenLogprob] | None]


def tokens_as_ids(requested: bool | None, server_default: bool) -> bool:
    """``return_tokens_as_token_ids``: the request's, else the server's ``--return-tokens-as-token-ids``."""
    return server_default if requested is None else requested


def _logprob(logprob: TokenLogprob) -> float:
    return max(logprob.logprob, LOGPROB_FLOOR)


def _decoded(tokenizer: Any, token_id: int, logprob: TokenLogprob | None) -> str:
    return logprob.text if logprob is not None and logprob.text is not None else tokenizer.decode([token_id])


def _name(tokenizer: Any, token_id: int, logprob: TokenLogprob | None, as_ids: bool) -> str:
    return f"token_id:{token_id}" if as_ids else _decoded(tokenizer, token_id, logprob)


def _ranked(candidates: dict[int, TokenLogprob], top: int) -> list[tuple[int, TokenLogprob]]:
    return sorted(candidates.items(), key=lambda item: item[1].rank or 0)[: max(top, 0)]


def _top(tokenizer: Any, token_id: int, logprob: TokenLogprob, as_ids: bool) -> TopLogprob:
    return TopLogprob(
        token=_name(tokenizer, token_id, logprob, as_ids),
        logprob=_logprob(logprob),
        bytes=list(_decoded(tokenizer, token_id, logprob).encode()),  # the token's own bytes, named by id or not
    )


def chat_logprobs(
    tokenizer: Any, positions: Sequence[Position] | None, top: int, as_ids: bool = False
) -> list[WireTokenLogprob] | None:
    if positions is None:
        return None
    wire = []
    for token_id, candidates in positions:
        chosen = (candidates or {}).get(token_id)
        if chosen is None:  # not scored (the engine always scores what it samples): vLLM's floor, no candidates
            chosen = TokenLogprob(LOGPROB_FLOOR)
        alternatives = [_top(tokenizer, tid, lp, as_ids) for tid, lp in _ranked(candidates or {}, top)]
        wire.append(
            WireTokenLogprob(**_top(tokenizer, token_id, chosen, as_ids).model_dump(), top_logprobs=alternatives)
        )
    return wire


def completion_logprobs(
    tokenizer: Any, positions: Sequence[Position] | None, top: int, offset: int = 0, as_ids: bool = False
) -> CompletionLogprobs | None:
    """``text_offset`` counts the characters of the tokens as named here (vLLM's way), from ``offset``."""
    if positions is None:
        return None
    result = CompletionLogprobs()
    for token_id, candidates in positions:
        chosen = candidates.get(token_id) if candidates else None
        name = _name(tokenizer, token_id, chosen, as_ids)
        result.tokens.append(name)
        result.text_offset.append(offset)
        offset += len(name)
        if candidates is None or chosen is None:  # a prompt's first token: nothing to score it against
            result.token_logprobs.append(None)
            result.top_logprobs.append(None)
            continue
        result.token_logprobs.append(_logprob(chosen))
        ranked = [(token_id, chosen)] + [(tid, lp) for tid, lp in _ranked(candidates, top) if tid != token_id]
        result.top_logprobs.append({_name(tokenizer, tid, lp, as_ids): _logprob(lp) for tid, lp in ranked})
    return result


def next_offset(logprobs: CompletionLogprobs | None, offset: int) -> int:
    """Where a stream's next chunk's ``text_offset`` starts: past the last token reported."""
    if logprobs is None or not logprobs.tokens:
        return offset
    return logprobs.text_offset[-1] + len(logprobs.tokens[-1])


def prompt_positions(prompt: list[int], logprobs: PromptLogprobs | None) -> list[Position]:
    """A prompt's tokens as positions (an echo's logprobs); unscored ones, the first among them, get null."""
    scored = list(logprobs or [])
    scored += [None] * (len(prompt) - len(scored))
    return list(zip(prompt, scored, strict=False))


def prompt_logprobs(logprobs: PromptLogprobs | None) -> WirePromptLogprobs | None:
    """vLLM's ``prompt_logprobs`` field: per prompt token, id -> {logprob, rank, decoded_token}; null first."""
    if logprobs is None:
        return None
    return [
        None
        if position is None
        else {
            tid: PromptLogprob(logprob=_logprob(lp), rank=lp.rank, decoded_token=lp.text)
            for tid, lp in position.items()
        }
        for position in logprobs
    ]
