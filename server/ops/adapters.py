"""LoRA adapters served beside the base model: ``--lora-modules`` in `vllm serve`'s syntax, checked at startup.

Each item is ``name=path`` or a JSON object ``{"name": …, "path": …, "base_model_name": …}`` (vLLM's
``LoRAParserAction``). Adapters are numbered from 1 in the order given: the same list always gives the same
ids, in the engine (which loads them at startup) and in the front end (which names them in requests).
Everything that can be told before the engine starts is checked here, with a message naming the flag:
``--enable-lora`` missing, a name twice, a directory without an adapter, a rank above ``--max-lora-rank``.
On a CPU, ``--max-loras`` gets one slot more than the adapters (:func:`cpu_adapter_slots` says why).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.engine.types import Adapter

FLAG = "--lora-modules"
FIELDS = {"name", "path", "base_model_name", "is_3d_lora_weight"}  # vLLM's LoRAModulePath
WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin", "adapter_model.pt")  # what vLLM's loader reads
logger = logging.getLogger("server")


class AdapterError(ValueError):
    """A ``--lora-modules`` the server cannot serve; the message names the flag."""


def parse_lora_modules(items: Sequence[str]) -> tuple[Adapter, ...]:
    """The adapters, numbered from 1; empty items are skipped, as vLLM skips them."""
    adapters: list[Adapter] = []
    for item in (item for item in items if item):
        adapter = _parse_item(item, len(adapters) + 1)
        if any(adapter.name == earlier.name for earlier in adapters):
            raise AdapterError(f"{FLAG}: the name {adapter.name!r} is given twice; each adapter needs its own.")
        adapters.append(adapter)
    return tuple(adapters)


def _parse_item(item: str, number: int) -> Adapter:
    """vLLM's rule: ``name=path`` when the item has an ``=`` and no comma, else one JSON object."""
    if "=" in item and "," not in item:
        name, path = item.split("=", 1)
        return _adapter({"name": name, "path": path}, number, item)
    try:
        fields = json.loads(item)
    except json.JSONDecodeError:
        raise AdapterError(f"{FLAG}: {item!r} is neither name=path nor a JSON object.") from None
    if not isinstance(fields, dict):
        raise AdapterError(f"{FLAG}: {item!r} is neither name=path nor a JSON object.")
    return _adapter(fields, number, item)


def _adapter(fields: dict[str, Any], number: int, item: str) -> Adapter:
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise AdapterError(f"{FLAG}: {item!r} has unknown fields {unknown}; it takes {sorted(FIELDS)}.")
    name, path = _text(fields, "name", item), _text(fields, "path", item)
    base = fields.get("base_model_name")
    if base is not None and not isinstance(base, str):
        raise AdapterError(f"{FLAG}: {item!r}: base_model_name must be a string.")
    is_3d = fields.get("is_3d_lora_weight", False)
    if not isinstance(is_3d, bool):
        raise AdapterError(f"{FLAG}: {item!r}: is_3d_lora_weight must be true or false.")
    return Adapter(name, number, path, base, is_3d)


def _text(fields: dict[str, Any], key: str, item: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AdapterError(f"{FLAG}: {item!r} needs a non-empty {key}.")
    return value


def check_startup(adapters: Sequence[Adapter], enable_lora: bool, max_lora_rank: int) -> None:
    """What the engine would refuse later (or at the first request), refused before it starts."""
    if adapters and not enable_lora:
        raise AdapterError(f"{FLAG} needs --enable-lora (vLLM serves adapters only with LoRA enabled).")
    for adapter in adapters:
        rank = adapter_rank(adapter)
        if rank > max_lora_rank:
            raise AdapterError(
                f"{FLAG}: adapter {adapter.name!r} has rank {rank}, above --max-lora-rank {max_lora_rank}; "
                f"raise --max-lora-rank to at least {rank}."
            )


def adapter_rank(adapter: Adapter) -> int:
    """The adapter's largest rank, read from its PEFT ``adapter_config.json`` (its directory checked first)."""
    directory = Path(adapter.path).expanduser()
    where = f"{FLAG}: adapter {adapter.name!r} at {adapter.path}"
    if not directory.is_dir():
        raise AdapterError(f"{where}: no such directory (hub ids are not fetched: download the adapter first).")
    if not any((directory / weights).is_file() for weights in WEIGHTS):
        raise AdapterError(f"{where}: no weights ({' or '.join(WEIGHTS)}).")
    try:
        config = json.loads((directory / "adapter_config.json").read_text())
        ranks = [config["r"], *(config.get("rank_pattern") or {}).values()]
        return max(int(rank) for rank in ranks)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AdapterError(f"{where}: no readable adapter_config.json with a rank r ({exc}).") from None


def settle_lora_flags(args: Any, adapters: Sequence[Adapter], on_cpu: bool) -> None:
    """The engine's LoRA flags (``args``: the parsed command line) checked, and given a spare slot on a CPU."""
    check_startup(adapters, args.enable_lora, args.max_lora_rank)
    slots = cpu_adapter_slots(adapters, args.max_loras)
    if on_cpu and slots != args.max_loras:
        logger.warning("--max-loras %d (not %d): vLLM's CPU LoRA kernels need a spare slot", slots, args.max_loras)
        args.max_loras = slots
        args.max_cpu_loras = None if args.max_cpu_loras is None else max(args.max_cpu_loras, slots)


def cpu_adapter_slots(adapters: Sequence[Adapter], max_loras: int) -> int:
    """``--max-loras`` on a CPU: at least one slot more than the adapters, so that the last slot stays empty.

    vLLM 0.32's CPU LoRA kernels (``vllm/lora/ops/torch_ops``) read a base-model row's "no adapter" index -1
    as the last slot: in a batch that mixes base and adapter requests, the base rows get the adapter in that
    slot (vllm-project/vllm#48421; the GPU kernels skip -1). Slots fill from the first, so with a spare one the
    last holds zeros. Seen here: with ``--max-loras 1``, base requests batched beside ``zero`` guessed 0.
    """
    return max(max_loras, len(adapters) + 1) if adapters else max_loras


def check_served_names(adapters: Sequence[Adapter], served: Sequence[str]) -> None:
    """An adapter's name must not be a base model's, and its base_model_name must be a served one."""
    for adapter in adapters:
        if adapter.name in served:
            raise AdapterError(f"{FLAG}: the adapter name {adapter.name!r} is a served base model's name.")
        if adapter.base_model_name is not None and adapter.base_model_name not in served:
            raise AdapterError(
                f"{FLAG}: adapter {adapter.name!r} names base_model_name {adapter.base_model_name!r}; "
                f"this server serves {', '.join(served)}."
            )
