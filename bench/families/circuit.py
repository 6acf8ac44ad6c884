"""A hand-wired circuit in the random model so that it thinks, ends its thinking, answers and stops.

Why not just scale the LM-head rows of ``</think>`` and EOS: a random model's greedy decoding falls into
short loops, and its logits do not know whether it is thinking or answering. Measured on Qwen3 with
both rows x3 (16 prompts, greedy): EOS came first on 16 of 16, ``</think>`` only 3 times, all after
garbage. A budget needs the opposite: a thinking that would end by itself, then an answer that ends.

So layer 0's two attention heads (sharing the one KV head) become timers over the thinking delimiters,
built from RoPE alone. A *start anchor* (the last token of the start delimiter: ``<think>``, s1's
``think``) or an *end anchor* (``</think>``, s1's ``answer``) writes a key; other keys are zero or a
constant baseline; queries are constant, so a score is ``s * cos(omega * distance)`` (+ a constant):

- head A, *phase*: attends to the most recent anchor for ~180 tokens (cos falls with distance); an end
  anchor gets a bonus, so ``<think></think>`` (a thinking forced off, or a budget of 0) reads as ended;
- head B, *fresh*: attends to an anchor only while it is at most ``phase_tokens`` back (the baseline
  every other key gets is ``s * cos(omega * phase_tokens)``).

Four residual features result (last start / last end, fresh start / fresh end). The LM head reads them:

- the end token: raised once the start is not fresh and no end followed it;
- EOS: raised a little less in that same state (a budget that bans the end then sees the model try EOS
  inside the thinking, as real models do), and fully once the end is not fresh;
- ``<think>`` (Qwen3, whose model opens its own thinking): raised while no anchor has been seen;
- s1's ``answer``: raised right after its end token ``<|im_start|>`` (a bigram through the embedding).

Every other weight stays random, so what comes in between is random text. Reserved residual dimensions
are cut from the random blocks (norm weights 0, output rows 0), so only the circuit moves them.

Precision: vLLM's CPU backend runs the model in bfloat16 (8-bit mantissa, ~0.4 % rounding), so no
decision rests on a score difference that small: a token of recency moves head B's score by ~7 (of
1,000) at the threshold, and head A's end bonus (20 of 3,000) and recency gaps stay above its rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from bench.families.weights import HEAD_DIM, ROPE_THETA

BIAS, START, END, LAST_START, LAST_END, FRESH_START, FRESH_END, AFTER_END_TOKEN = range(8)
RESERVED = list(range(8))
# Head dimensions (RoPE pairs i, i+32; pairs 29-31 barely turn within 2,048 tokens).
PHASE_PAIR, FRESH_PAIR, PAD_DIM, BONUS_DIM, BASE_DIM = 11, 9, 29, 30, 31
PHASE_SCORE, END_BONUS, FRESH_SCORE = 3000.0, 20.0, 1000.0
PHASE_TOKENS = 18  # the thinking (answer) ends this many tokens after its start (end) anchor
MAX_PHASE_TOKENS = 60  # head B's cosine still falls steeply there, and head A still sees the anchor
BIAS_EMBED, ANCHOR_EMBED, FEATURE = 0.1, 1.0, 0.1  # residual magnitudes; random dims sit near 0.02-0.05
# LM-head weights on the features. Measured at Qwen3's vocabulary: a live feature reads ~2.3 after the final
# norm and the largest random logit ~0.6, so 1.5 x 2.3 = 3.5 wins clearly and -3.5 keeps a token out; EOS's
# 1.0 x 2.3 = 2.3 inside an old thinking loses to the end token's 3.5 and beats every random token.
RAISE_END, RAISE_EOS, EOS_IN_THINKING, RAISE_OPENER, RAISE_BIGRAM = 1.5, 1.5, 1.0, 1.5, 10.0


@dataclass(frozen=True)
class Delimiters:
    """The token ids the circuit reacts to and raises."""

    start_anchor: int  # last token of the start delimiter
    end_anchor: int  # last token of the end delimiter
    end_token: int  # first token of the end delimiter: emitting it ends the thinking
    eos: int
    opener: int | None  # the start delimiter's token when the model, not the prompt, opens the thinking


def omega(pair: int) -> float:
    """RoPE's angular speed of pair ``pair`` (radians per token)."""
    return float(ROPE_THETA ** (-2 * pair / HEAD_DIM))


def _cut_reserved(w: dict[str, torch.Tensor], layer: int) -> None:
    """The random blocks (all but layer 0's attention) neither read nor write the reserved dimensions."""
    prefix = f"model.layers.{layer}."
    w[prefix + "post_attention_layernorm.weight"][RESERVED] = 0.0
    w[prefix + "mlp.down_proj.weight"][RESERVED, :] = 0.0
    if layer > 0:
        w[prefix + "input_layernorm.weight"][RESERVED] = 0.0
        w[prefix + "self_attn.o_proj.weight"][RESERVED, :] = 0.0


def _embeddings(w: dict[str, torch.Tensor], d: Delimiters) -> None:
    embed = w["model.embed_tokens.weight"]
    embed[:, RESERVED] = 0.0
    embed[:, BIAS] = BIAS_EMBED
    embed[d.start_anchor, START] = ANCHOR_EMBED
    embed[d.end_anchor, END] = ANCHOR_EMBED
    if d.end_token != d.end_anchor:
        embed[d.end_token, AFTER_END_TOKEN] = ANCHOR_EMBED


def _timers(w: dict[str, torch.Tensor], phase_tokens: int) -> None:
    """Layer 0: constant queries, keys at anchors (and head B's baseline everywhere), values = anchor kind.

    After k_norm an anchor's key is ``unit * (a, a, a, b)`` over (phase, fresh, bonus or pad, base), any
    other key ``(0, 0, 0, 8)``; both queries are ``(8/sqrt2, 8/sqrt2)`` on their two dims; score = q.k / 8.
    Start anchors fill ``PAD_DIM`` where end anchors fill ``BONUS_DIM``, so both kinds normalise alike.
    """
    attn = "model.layers.0.self_attn."
    q, k, v, o = (w[attn + n + "_proj.weight"] for n in "qkvo")
    q.zero_(), k.zero_()
    q[[PHASE_PAIR, BONUS_DIM], BIAS] = 1.0  # head A
    q[[HEAD_DIM + FRESH_PAIR, HEAD_DIM + BASE_DIM], BIAS] = 1.0  # head B
    k[PHASE_PAIR, [START, END]] = k[FRESH_PAIR, [START, END]] = 1.0
    k[PAD_DIM, START] = k[BONUS_DIM, END] = 1.0
    k[BASE_DIM, BIAS] = 1.0
    unit = math.sqrt(HEAD_DIM) / math.sqrt(3 * ANCHOR_EMBED**2 + BIAS_EMBED**2)
    per_key = math.sqrt(2) / (ANCHOR_EMBED * unit)  # k_norm weight per unit of score at an anchor
    k_norm = w[attn + "k_norm.weight"]
    k_norm[PHASE_PAIR], k_norm[BONUS_DIM] = PHASE_SCORE * per_key, END_BONUS * per_key
    k_norm[FRESH_PAIR] = FRESH_SCORE * per_key
    threshold = math.cos(omega(FRESH_PAIR) * phase_tokens) * FRESH_SCORE
    k_norm[BASE_DIM] = math.sqrt(2) * threshold / (math.sqrt(HEAD_DIM) - BIAS_EMBED * unit)
    v[[0, 1], :] = 0.0
    v[0, START] = v[1, END] = 1.0
    o[:, [0, 1, HEAD_DIM, HEAD_DIM + 1]] = 0.0
    o[RESERVED, :] = 0.0
    gain = FEATURE / math.sqrt(HEAD_DIM)  # an anchor's normalised value is ~8
    o[LAST_START, 0] = o[LAST_END, 1] = o[FRESH_START, HEAD_DIM] = o[FRESH_END, HEAD_DIM + 1] = gain


def _lm_head(w: dict[str, torch.Tensor], d: Delimiters) -> None:
    head = w["lm_head.weight"]
    head[:, RESERVED] = 0.0
    fresh = [FRESH_START, FRESH_END]
    head[d.end_token, LAST_START], head[d.end_token, LAST_END] = RAISE_END, -RAISE_END
    head[d.end_token, fresh] = -RAISE_END
    head[d.eos, LAST_END], head[d.eos, LAST_START] = RAISE_EOS, EOS_IN_THINKING
    head[d.eos, fresh] = -RAISE_EOS
    if d.opener is not None:
        head[d.opener, BIAS] = RAISE_OPENER
        head[d.opener, [LAST_START, LAST_END, *fresh]] = -2 * RAISE_OPENER
    if d.end_token != d.end_anchor:
        head[d.end_anchor, AFTER_END_TOKEN] = RAISE_BIGRAM


def wire(
    weights: dict[str, torch.Tensor], delimiters: Delimiters, phase_tokens: int = PHASE_TOKENS
) -> dict[str, torch.Tensor]:
    """Install the circuit in ``weights`` (in place) and return them.

    ``phase_tokens``: how long the thinking and the answer each last before the model ends them itself
    (the end token comes ``phase_tokens`` tokens after the start anchor, EOS as long after the end anchor).
    """
    if not 1 <= phase_tokens <= MAX_PHASE_TOKENS:
        raise ValueError(f"phase_tokens must be within 1..{MAX_PHASE_TOKENS}, got {phase_tokens}")
    _embeddings(weights, delimiters)
    _timers(weights, phase_tokens)
    for layer in (0, 1):
        _cut_reserved(weights, layer)
    _lm_head(weights, delimiters)
    return weights
