"""A built model directory: the files vLLM reads, the family's ids in its configs, and the circuit in its weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open
from transformers import AutoTokenizer

from bench.families.build import build_model
from bench.families.catalog import FAMILIES, family
from bench.families.circuit import EOS_IN_THINKING, LAST_END, LAST_START, RAISE_END, RAISE_EOS, RESERVED
from bench.families.hf_tokenizer import build_tokenizer
from bench.families.vocabularies import DEEPSEEK_USER
from bench.families.weights import SAVED_DTYPE

# (embedding rows, config EOS, generation-config EOS list, end token, other raised token) per family:
# Qwen3's model opens its own thinking (<think>), s1's end token is followed by "answer".
EXPECTED = {
    "qwen3": (151_936, 151_645, [151_645, 151_643], 151_668, 151_667),
    "qwen3.5": (248_320, 248_046, [248_046, 248_044], 248_069, None),
    "deepseek-v4": (129_280, 1, [1], 128_822, None),
    "s1": (151_936, 151_645, [151_645, 151_643], 151_644, 9217),
}


@pytest.fixture(scope="module", params=list(FAMILIES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    name = str(request.param)
    return name, build_model(name, tmp_path_factory.mktemp(name.replace(".", "_")))


def test_the_directory_holds_what_vllm_loads(built: tuple[str, Path]) -> None:
    _, directory = built
    files = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert files | {"chat_template.jinja"} <= {p.name for p in directory.iterdir()}


def test_configs_carry_the_familys_vocabulary_and_eos(built: tuple[str, Path]) -> None:
    name, directory = built
    vocab, eos, eos_list, _, _ = EXPECTED[name]
    config = json.loads((directory / "config.json").read_text())
    generation = json.loads((directory / "generation_config.json").read_text())
    assert (config["vocab_size"], config["eos_token_id"], generation["eos_token_id"]) == (vocab, eos, eos_list)
    assert config["bos_token_id"] == (0 if name == "deepseek-v4" else None)
    assert set(generation) <= {"eos_token_id", "pad_token_id", "bos_token_id"}  # no sampling defaults


def test_the_lm_head_reads_the_phase_for_the_end_token_and_eos_only(built: tuple[str, Path]) -> None:
    name, directory = built
    vocab, eos, _, end, other = EXPECTED[name]
    with safe_open(str(directory / "model.safetensors"), "pt") as weights:
        head = weights.get_tensor("lm_head.weight")
        assert weights.get_tensor("model.embed_tokens.weight").shape == (vocab, 64)
    assert head.shape == (vocab, 64) and head.dtype == SAVED_DTYPE
    assert (float(head[end, LAST_START]), float(head[end, LAST_END])) == (RAISE_END, -RAISE_END)
    assert (float(head[eos, LAST_END]), float(head[eos, LAST_START])) == (RAISE_EOS, EOS_IN_THINKING)
    raised = set(head[:, RESERVED].abs().sum(dim=1).nonzero().flatten().tolist())
    assert raised == {end, eos} | ({other} if other else set())


def test_the_saved_tokenizer_reloads_as_the_familys(built: tuple[str, Path]) -> None:
    """What vLLM loads from the directory: same ids, length, special tokens and template as ``build_tokenizer``."""
    name, directory = built
    ours, reloaded = build_tokenizer(name), AutoTokenizer.from_pretrained(directory)
    text = "x<think>y</think> <|im_start|>你好 👍🏽  a" + DEEPSEEK_USER
    assert reloaded.encode(text, add_special_tokens=False) == ours.encode(text, add_special_tokens=False)
    assert len(reloaded) == len(ours) == family(name).tokenizer_size
    assert (reloaded.all_special_ids, reloaded.eos_token) == (ours.all_special_ids, family(name).eos_token)
    assert reloaded.chat_template == ours.chat_template


def test_the_command_line_builds_one_and_prints_its_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.families.__main__ import main

    main(["s1", "--out", str(tmp_path / "s1"), "--phase-tokens", "25"])
    printed = capsys.readouterr().out
    assert "end token '<|im_start|>' = 151644" in printed and "EOS '<|im_end|>' = 151645" in printed
    assert (tmp_path / "s1" / "model.safetensors").exists()
