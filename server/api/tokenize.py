"""``POST /tokenize`` and ``POST /detokenize``: vLLM's tokenizer endpoints, outside ``/v1`` as `vllm serve` has them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server.protocol.common import ErrorResponse
from server.protocol.tokenize import DetokenizeRequest, DetokenizeResponse, TokenizeRequest, TokenizeResponse
from server.serving import tokenize as tokenization
from server.serving.context import Context

router = APIRouter(tags=["vllm"])
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (400, 404)}


@router.post("/tokenize", response_model=TokenizeResponse, responses=ERRORS)
async def tokenize(body: TokenizeRequest, context: Context) -> TokenizeResponse:
    """Text (``prompt``) or chat messages (``messages``, rendered as ``/v1/chat/completions`` renders them)."""
    return await tokenization.tokenize(body, context)


@router.post("/detokenize", response_model=DetokenizeResponse, responses=ERRORS)
async def detokenize(body: DetokenizeRequest, context: Context) -> DetokenizeResponse:
    return await tokenization.detokenize(body, context)
