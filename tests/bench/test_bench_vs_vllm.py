"""``bench/vs_vllm.py``: the pure parts (result parsing, medians, ratios) and one real run of ``--quick``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.report import RESULTS
from bench.server_process import ROOT
from bench.vs_vllm import client_argv, compare, median_row, paired_ratios, parse_args, parse_result, ratio, same_engine


def saved_result(**overrides: object) -> dict[str, object]:
    """A trimmed ``vllm bench serve --save-result`` JSON (percentiles 50 and 99)."""
    result: dict[str, object] = {
        "completed": 2,
        "failed": 1,
        "total_output_tokens": 8,
        "output_throughput": 123.5,
        "p50_ttft_ms": 11.0,
        "p99_ttft_ms": 32.5,
        "p50_itl_ms": 4.0,
        "p99_itl_ms": 5.9,
    }
    return {**result, **overrides}


def test_parse_result_keeps_the_clients_figures() -> None:
    row = parse_result(saved_result())
    assert row == {
        "output_tok_s": 123.5,
        "ttft_p50_ms": 11.0,
        "ttft_p99_ms": 32.5,
        "itl_p50_ms": 4.0,
        "itl_p99_ms": 5.9,
        "out_tok_per_req": 4.0,
        "completed": 2,
        "failed": 1,
    }
    assert parse_result(saved_result(completed=0, total_output_tokens=0))["out_tok_per_req"] == 0.0


def test_median_row_takes_each_metric_separately() -> None:
    runs = [{"a": 1.0, "b": 30.0}, {"a": 5.0, "b": 10.0}, {"a": 3.0, "b": 20.0}]
    assert median_row(runs) == {"a": 3.0, "b": 20.0}
    assert median_row([{"a": 1.0}, {"a": 2.0}]) == {"a": 1.5}


def test_compare_puts_both_servers_side_by_side_with_paired_ratios() -> None:
    # Three repeats; the machine slows down in the last two, for both servers alike.
    ours = [parse_result(saved_result(output_throughput=t)) for t in (100.0, 45.0, 60.0)]
    theirs = [parse_result(saved_result(output_throughput=t, p50_ttft_ms=20.0)) for t in (100.0, 50.0, 50.0)]
    row = compare(8, ours, theirs)
    assert row["concurrency"] == 8
    assert (row["ours_output_tok_s"], row["vllm_output_tok_s"]) == (60.0, 50.0)  # medians, metric by metric
    assert row["tok_s_ratio"] == 1.0  # the median of 1.0, 0.9, 1.2; the medians' ratio (1.2) mixes repeats
    assert row["tok_s_ratio_range"] == "0.90 to 1.20"
    assert row["ttft_p50_ratio"] == pytest.approx(11.0 / 20.0)
    assert {"ours_itl_p99_ms", "vllm_itl_p99_ms", "ours_out_tok_per_req"} <= row.keys()
    assert ratio(1.0, 0.0) is None
    assert paired_ratios(ours, [parse_result(saved_result(output_throughput=0.0))] * 3, "output_tok_s") == []


def test_engine_configs_match_but_for_the_front_ends_reasoning_parser() -> None:
    line = "model='m', structured_outputs_config=StructuredOutputsConfig(reasoning_parser='{}', x=1), seed=0"
    assert same_engine(line.format(""), line.format("deepseek_r1"))
    assert not same_engine(line.format(""), line.format("").replace("seed=0", "seed=1"))
    assert not same_engine(line.format(""), None)


def test_quick_mode_and_client_arguments() -> None:
    quick = parse_args(["--quick"])
    assert (quick.concurrency, quick.repeats, quick.out_name, quick.output_len) == ([1, 8], 1, "vs_vllm-quick", 32)
    full = parse_args([])
    assert (full.concurrency, full.repeats, full.out_name) == ([1, 8, 32, 128], 7, "vs_vllm")
    assert full.vllm_args == "--reasoning-parser deepseek_r1"
    argv = client_argv("http://h:1", 8, 32, 7, full, RESULTS / "x.json")
    value = {flag: argv[argv.index(flag) + 1] for flag in ("--max-concurrency", "--num-prompts", "--backend", "--seed")}
    assert value == {"--max-concurrency": "8", "--num-prompts": "32", "--backend": "openai-chat", "--seed": "7"}
    assert {"--ignore-eos", "--save-result"} <= set(argv)


@pytest.mark.engine
def test_quick_run_gives_rows_for_both_servers() -> None:
    subprocess.run(
        [sys.executable, "-m", "bench.vs_vllm", "--quick", "--out-name", "vs_vllm-test"],
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    data = json.loads((RESULTS / "vs_vllm-test.json").read_text())
    assert [row["concurrency"] for row in data["rows"]] == [1, 8]
    for row in data["rows"]:
        assert row["ours_output_tok_s"] > 0
        assert row["vllm_output_tok_s"] > 0
    assert data["engine_config_equal"]
    assert (RESULTS / "vs_vllm-test.png").stat().st_size > 0
