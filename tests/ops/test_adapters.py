"""``--lora-modules``: vLLM's two spellings, the adapters numbered, and every startup refusal naming the flag."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server.engine.types import Adapter
from server.ops.adapters import (
    AdapterError,
    check_served_names,
    check_startup,
    cpu_adapter_slots,
    parse_lora_modules,
)
from server.ops.settings import Settings


def adapter_dir(root: Path, rank: int = 4, weights: str | None = "adapter_model.safetensors") -> Path:
    """A directory as PEFT writes it (the weights' bytes are not read at startup)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank, "lora_alpha": 8}))
    if weights:
        (root / weights).write_bytes(b"")
    return root


def test_both_spellings_numbered_in_order_empty_items_skipped() -> None:
    items = ["zero=/adapters/zero", "", '{"name": "sql", "path": "/a/sql", "base_model_name": "tiny-reasoner"}']
    assert parse_lora_modules(items) == (
        Adapter("zero", 1, "/adapters/zero"),
        Adapter("sql", 2, "/a/sql", "tiny-reasoner"),
    )
    assert parse_lora_modules(['{"name": "m", "path": "p", "is_3d_lora_weight": true}'])[0].is_3d_lora_weight
    assert parse_lora_modules(["a=b=c"]) == (Adapter("a", 1, "b=c"),)  # the first = splits, as vLLM's


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("zero=/a,b", "neither name=path nor a JSON object"),  # a comma: vLLM reads it as JSON
        ("zero", "neither name=path nor a JSON object"),
        ('["zero", "/a"]', "neither name=path nor a JSON object"),
        ('{"name": "zero"}', "needs a non-empty path"),
        ("=/adapters/zero", "needs a non-empty name"),
        ('{"name": "zero", "path": "/a", "rank": 8}', "unknown fields ['rank']"),
        ('{"name": "zero", "path": "/a", "base_model_name": 3}', "base_model_name must be a string"),
        ('{"name": "zero", "path": "/a", "is_3d_lora_weight": "yes"}', "is_3d_lora_weight must be true or false"),
    ],
)
def test_malformed_items_are_refused_naming_the_flag(item: str, says: str) -> None:
    with pytest.raises(AdapterError, match="--lora-modules") as refused:
        parse_lora_modules([item])
    assert says in str(refused.value)


def test_a_name_given_twice_is_refused() -> None:
    with pytest.raises(AdapterError, match="'zero' is given twice"):
        parse_lora_modules(["zero=/a", '{"name": "zero", "path": "/b"}'])


def test_startup_needs_enable_lora(tmp_path: Path) -> None:
    adapters = parse_lora_modules([f"zero={adapter_dir(tmp_path)}"])
    with pytest.raises(AdapterError, match="--lora-modules needs --enable-lora"):
        check_startup(adapters, enable_lora=False, max_lora_rank=16)
    check_startup(adapters, enable_lora=True, max_lora_rank=16)
    check_startup((), enable_lora=False, max_lora_rank=16)  # no adapters: nothing to refuse


@pytest.mark.parametrize("weights", ["adapter_model.safetensors", "adapter_model.bin", "adapter_model.pt"])
def test_any_weights_file_vllm_reads_will_do(tmp_path: Path, weights: str) -> None:
    check_startup(parse_lora_modules([f"zero={adapter_dir(tmp_path, weights=weights)}"]), True, 16)


def test_directories_that_hold_no_adapter_are_refused(tmp_path: Path) -> None:
    cases = {
        "no such directory": tmp_path / "missing",
        "no weights": adapter_dir(tmp_path / "empty", weights=None),
        "no readable adapter_config.json": tmp_path / "no-config",
    }
    (tmp_path / "no-config").mkdir()
    (tmp_path / "no-config" / "adapter_model.safetensors").write_bytes(b"")
    for says, path in cases.items():
        with pytest.raises(AdapterError, match=re.escape(f"--lora-modules: adapter 'zero' at {path}: {says}")):
            check_startup(parse_lora_modules([f"zero={path}"]), True, 16)


def test_a_rank_above_max_lora_rank_is_refused(tmp_path: Path) -> None:
    adapters = parse_lora_modules([f"big={adapter_dir(tmp_path, rank=32)}"])
    with pytest.raises(AdapterError, match="rank 32, above --max-lora-rank 16"):
        check_startup(adapters, True, 16)
    check_startup(adapters, True, 32)
    config = tmp_path / "adapter_config.json"
    config.write_text(json.dumps({"r": 8, "rank_pattern": {"q_proj": 64}}))  # PEFT's per-module ranks count too
    with pytest.raises(AdapterError, match="rank 64"):
        check_startup(adapters, True, 32)


def test_names_must_not_shadow_a_base_model_and_bases_must_be_served() -> None:
    served = ["tiny-reasoner"]
    check_served_names(parse_lora_modules(['{"name": "z", "path": "/a", "base_model_name": "tiny-reasoner"}']), served)
    with pytest.raises(AdapterError, match="'tiny-reasoner' is a served base model's name"):
        check_served_names(parse_lora_modules(["tiny-reasoner=/a"]), served)
    with pytest.raises(AdapterError, match="names base_model_name 'llama'; this server serves tiny-reasoner"):
        check_served_names(parse_lora_modules(['{"name": "z", "path": "/a", "base_model_name": "llama"}']), served)


def test_a_cpu_gets_a_spare_adapter_slot() -> None:
    """vLLM's CPU kernels give base rows the last slot's adapter: one slot more than the adapters keeps it empty."""
    two = parse_lora_modules(["a=/a", "b=/b"])
    assert [cpu_adapter_slots(two, max_loras) for max_loras in (1, 2, 3, 8)] == [3, 3, 3, 8]
    assert cpu_adapter_slots((), 1) == 1


def test_settings_take_the_items_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKSERVE_LORA_MODULES", '["zero=/adapters/zero"]')
    assert Settings().adapters() == (Adapter("zero", 1, "/adapters/zero"),)


def test_the_command_line_refuses_before_the_engine_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli import parse  # imports vLLM: a few seconds

    path = adapter_dir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        parse(["--lora-modules", f"zero={path}"])
    assert exited.value.code == 2 and "--lora-modules needs --enable-lora" in capsys.readouterr().err
    other = adapter_dir(tmp_path / "other")
    settings, engine_args = parse(
        ["--enable-lora", "--max-lora-rank", "8", "--lora-modules", f"z={path}", f"o={other}"]
    )
    assert [a.name for a in settings.adapters()] == ["z", "o"] and engine_args.enable_lora
    assert (engine_args.max_loras, engine_args.max_cpu_loras) == (3, None)  # this machine is a CPU: a spare slot
    _, engine_args = parse(["--enable-lora", "--max-loras", "1", "--max-cpu-loras", "1", "--lora-modules", f"z={path}"])
    assert (engine_args.max_loras, engine_args.max_cpu_loras) == (2, 2)  # vLLM wants max_cpu_loras >= max_loras
    assert parse(["--enable-lora", "--max-loras", "4", "--lora-modules", f"z={path}"])[1].max_loras == 4
    assert parse([])[1].max_loras == 1  # no adapters: vLLM's default, untouched
    with pytest.raises(SystemExit):  # rank 4 fits 8; the engine's own --max-lora-rank is what is compared
        parse(["--enable-lora", "--max-lora-rank", "1", "--lora-modules", f"z={path}"])
    assert "rank 4, above --max-lora-rank 1" in capsys.readouterr().err
