"""vLLM's request extensions that need more than a type: their checks as `vllm serve` makes them, and the budget.

``cache_salt``, ``vllm_xargs``, ``bad_words`` and ``allowed_token_ids`` are refused here with a 400 naming the
field where vLLM's server refuses them, before anything reaches the engine (where the refusal of a streamed
request could only come as an error event). ``priority`` other than 0 is refused without priority scheduling, as
vLLM's protocol documents it (vLLM 0.32's engine itself would ignore it under first come, first served: a client
that sets it expects an order the server would not keep).

``allowed_token_ids`` and ``bad_words`` meet the thinking budget: vLLM's sampler masks the logits with them
*before* it runs the logits processors that change greedy decoding, the budget's among them, and the budget never
revives a masked token (:mod:`server.thinking.edit`). A forced token they mask would be lost: a minimum not held,
a maximum overrun. So a request with a budget is refused when its allowed ids lack a token the budget may force,
or one of its bad words could ban one. Adding those tokens to the allowed ids instead would let the model sample
them anywhere, which is what the list was sent to prevent.
"""

from __future__ import annotations

import os
from typing import Any

from server.protocol.common import SamplingFields
from server.protocol.errors import APIError
from server.serving.prompts import check_token_ids
from server.thinking.budget import Budget
from server.thinking.plan import KEY

MAX_CACHE_SALT = 128  # vLLM's bound, whatever the field's schema says (1024)
CACHE_SALT_FORBIDDEN = frozenset("@/\\\x00")
XARGS_INTS = (-(2**63), 2**64)  # what the engine's MessagePack transport carries: vLLM's bound, [low, high)


def check_extensions(request: SamplingFields, vocab_size: int) -> None:
    """The checks that need only the request (the first stage of a plan)."""
    if request.allowed_token_ids is not None:
        if not request.allowed_token_ids:
            raise APIError("allowed_token_ids must not be empty: no token could be sampled.", param="allowed_token_ids")
        check_token_ids(request.allowed_token_ids, vocab_size, "allowed_token_ids")
    if any(not word for word in request.bad_words):
        raise APIError("bad_words cannot contain an empty string.", param="bad_words")
    salt = request.cache_salt
    if salt is not None and (len(salt) > MAX_CACHE_SALT or not CACHE_SALT_FORBIDDEN.isdisjoint(salt)):
        raise APIError(
            f"cache_salt must be at most {MAX_CACHE_SALT} characters and must not contain '@', '/', '\\' or NUL.",
            param="cache_salt",
        )
    _check_xargs(request.vllm_xargs or {})


def check_priority(priority: int, policy: str) -> None:
    """A priority other than 0 asks for priority scheduling, which the engine does only when started with it."""
    if priority != 0 and policy != "priority":
        raise APIError(
            f"priority is {priority}, but this server schedules {policy} (first come, first served): only 0 is "
            "accepted; start it with --scheduling-policy priority to order requests by priority.",
            param="priority",
        )


def _check_xargs(xargs: dict[str, Any]) -> None:
    for key, value in xargs.items():
        if not _encodable(key):
            raise APIError("vllm_xargs: a key contains invalid Unicode (a lone surrogate).", param="vllm_xargs")
        where = f"vllm_xargs.{key}"
        if key == KEY:
            raise APIError(
                f"{where}: {KEY} is this server's own key (the thinking budget travels in it); send the budget "
                "fields (max_thinking_tokens, …) instead.",
                param=where,
            )
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, int) and not XARGS_INTS[0] <= item < XARGS_INTS[1]:
                raise APIError(f"{where}: integers must be between -2**63 and 2**64 - 1.", param=where)
            if isinstance(item, str) and not _encodable(item):
                raise APIError(f"{where}: contains invalid Unicode (a lone surrogate).", param=where)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def extra_args(xargs: dict[str, Any] | None, budget_args: dict[str, Any] | None) -> dict[str, Any] | None:
    """``SamplingParams.extra_args``: the request's ``vllm_xargs``, as `vllm serve` passes them, and the budget's."""
    return {**(xargs or {}), **(budget_args or {})} or None


def bad_word_ids(words: list[str], tokenizer: Any) -> list[list[int]]:
    """Each bad word's token ids as vLLM's ``SamplingParams.update_from_tokenizer`` finds them: the word (leading
    space stripped), and the word after a space when that starts with another token and is as long."""
    found: list[list[int]] = []
    for word in dict.fromkeys(words):
        for prefix in ("", " "):
            ids = list(tokenizer.encode(prefix + word.lstrip(), add_special_tokens=False))
            if not ids:
                if not prefix:
                    raise APIError(f"bad_words: {word!r} encodes to no tokens.", param="bad_words")
                continue
            if not prefix or (ids[0] != found[-1][0] and len(ids) == len(found[-1])):
                found.append(ids)
    most = int(os.environ.get("VLLM_MAX_NUM_BAD_WORDS", "128"))  # vLLM's limit, from its environment variable
    if len(found) > most:
        raise APIError(f"bad_words: {len(found)} after tokenization; at most {most}.", param="bad_words")
    return found


def forced_sequences(budget: Budget) -> list[tuple[int, ...]]:
    """What the budget may put in place, each right after text the model wrote: the end of thinking (an EOS in the
    thinking becomes it), each wait string while a minimum holds, the closing (after its wrap-up, or alone in place
    of an attempt to end) where a maximum or the loop guard can force it."""
    sequences: list[tuple[int, ...]] = [(budget.end,)]
    if budget.min_tokens or budget.min_waits:
        sequences += budget.wait_strings
    if budget.max_tokens is not None or budget.loop_guard:
        sequences += [budget.wrapup + budget.closing, budget.closing]
    return sequences


def check_masks_spare_the_budget(
    budget: Budget, allowed: list[int] | None, bad_words: list[list[int]], tokenizer: Any
) -> None:
    """A 400 when ``allowed_token_ids`` lacks a token the budget may force, or a bad word could ban one."""
    forced = forced_sequences(budget)
    missing = sorted({token for sequence in forced for token in sequence}.difference(allowed or ()))
    if allowed is not None and missing:
        raise APIError(
            f"allowed_token_ids lacks {missing} ({tokenizer.decode(missing)!r}), which the thinking budget forces: "
            "a token masked before the budget runs cannot be forced. Add them, or send no budget.",
            param="allowed_token_ids",
        )
    for word in bad_words:
        if any(could_ban(word, sequence) for sequence in forced):
            raise APIError(
                f"bad_words: {tokenizer.decode(word)!r} could ban a token the thinking budget forces; send it "
                "without a budget.",
                param="bad_words",
            )


def could_ban(word: list[int], forced: tuple[int, ...]) -> bool:
    """vLLM bans a bad word's last token where the output ends with the rest of it: where that token is due in
    ``forced``, after the forced tokens before it, and before them the model's text (which may be anything)."""
    *rest, last = word
    for i, token in enumerate(forced):
        before = forced[max(0, i - len(rest)) : i]
        if token == last and tuple(rest[len(rest) - len(before) :]) == before:
            return True
    return False
