"""The Responses API's store: responses kept for ``GET /v1/responses/{id}`` and ``previous_response_id``.

In memory, bounded twice: at most ``max_entries`` responses and ``max_bytes`` of them (their JSON and
their conversation's), least recently used evicted first (a read or a ``previous_response_id`` counts as a
use). Each entry holds its whole conversation (the chat messages before it, instructions excepted, and its
own output), so evicting an older response never breaks a newer one that continued it: nothing a kept
response refers to is lost. A response larger than ``max_bytes`` on its own is not kept. ``store: false``
keeps nothing. One process, one store: replicas behind a load balancer do not share it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from server.protocol.errors import APIError
from server.protocol.responses_output import ResponseObject


@dataclass(frozen=True)
class Stored:
    response: ResponseObject
    conversation: list[dict[str, Any]]  # chat messages, JSON-ready: the history a continuation starts from
    size: int  # bytes counted against the store's bound


class ResponseStore:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._bytes

    def put(self, response: ResponseObject, conversation: list[dict[str, Any]]) -> bool:
        """Keep ``response`` (evicting the least recently used as needed); False when it cannot fit at all."""
        size = len(response.model_dump_json()) + len(json.dumps(conversation, ensure_ascii=False))
        if self.max_entries == 0 or size > self.max_bytes:
            return False
        self.delete(response.id)
        while self._entries and (len(self._entries) >= self.max_entries or self._bytes + size > self.max_bytes):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
        self._entries[response.id] = Stored(response, conversation, size)
        self._bytes += size
        return True

    def get(self, response_id: str, param: str | None = None) -> Stored:
        """The stored response, now the most recently used; a 404 in OpenAI's shape when it is not kept."""
        stored = self._entries.get(response_id)
        if stored is None:
            raise APIError(
                f"Response with id {response_id[:200]!r} not found: it was never stored (store: false), was evicted "
                f"from this server's bounded store ({self.max_entries} responses, {self.max_bytes} bytes), "
                "or was stored by another server process.",
                status=HTTPStatus.NOT_FOUND,
                param=param,
                code="response_not_found",
            )
        self._entries.move_to_end(response_id)
        return stored

    def delete(self, response_id: str) -> bool:
        stored = self._entries.pop(response_id, None)
        if stored is not None:
            self._bytes -= stored.size
        return stored is not None
