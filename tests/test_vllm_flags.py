"""`vllm serve`'s flags on thinkserve's command line: each honoured, or refused by name before anything starts."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.vllm_flags import ENGINE, NEGATABLE, SERVE, apply_vllm_serve_flags

ROOT = Path(__file__).resolve().parents[1]

# A value each refused engine flag refuses (a new entry in ENGINE needs one here).
ENGINE_SAMPLES = {
    "skip_tokenizer_init": ["--skip-tokenizer-init"],
    "enable_prompt_embeds": ["--enable-prompt-embeds"],
    "enable_mm_embeds": ["--enable-mm-embeds"],
    "allowed_local_media_path": ["--allowed-local-media-path", "/tmp"],
    "allowed_media_domains": ["--allowed-media-domains", "example.com"],
    "media_io_kwargs": ["--media-io-kwargs", '{"video": {"num_frames": 4}}'],
    "enable_return_routed_experts": ["--enable-return-routed-experts"],
    "return_sampling_mask": ["--return-sampling-mask"],
    "enable_trace_replay": ["--enable-trace-replay"],
    "enable_sleep_mode": ["--enable-sleep-mode"],
    "enable_elastic_ep": ["--enable-elastic-ep"],
    "enable_fault_tolerance": ["--enable-fault-tolerance"],
    "weight_transfer_config": ["--weight-transfer-config", '{"backend": "nccl"}'],
    "renderer_num_workers": ["--renderer-num-workers", "4"],
    "runner": ["--runner", "pooling"],
    "convert": ["--convert", "embed"],
    "pooler_config": ["--pooler-config", "{}"],
    "io_processor_plugin": ["--io-processor-plugin", "plugin"],
    "override_generation_config": ["--override-generation-config", '{"temperature": 0.5}'],
    "reasoning_config": ["--reasoning-config", "{}"],
    "data_parallel_multi_port_external_lb": ["--data-parallel-multi-port-external-lb"],
    "nnodes": ["--nnodes", "2"],
    "node_rank": ["--node-rank", "1"],
}


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    from server.cli import build_parser  # imports vLLM: a few seconds

    return build_parser()


@pytest.fixture(scope="module")
def vllm_serve() -> argparse.ArgumentParser:
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    return make_arg_parser(FlexibleArgumentParser())


def refusal(parser: argparse.ArgumentParser, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The error a command line gets: exit 2, as argparse's own, before anything starts."""
    with pytest.raises(SystemExit) as exited:
        apply_vllm_serve_flags(parser, parser.parse_args(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err


def applied(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = parser.parse_args(argv)
    apply_vllm_serve_flags(parser, args)
    return args


def refused_form(flag: str) -> list[str]:
    """The command line that asks a hidden `vllm serve` flag for what thinkserve does not do."""
    refused = SERVE[flag]
    if refused.kind == "value":
        return [flag, "other"]
    return [f"--no-{flag[2:]}"] if refused.kind == "bool" and refused.fine(True) else [flag]


def test_every_vllm_serve_flag_is_honoured_or_refused(parser: argparse.ArgumentParser, vllm_serve: Any) -> None:
    """Ours takes each of vLLM 0.32's `vllm serve` flags: visible and honoured, or hidden and refused by name."""
    ours = parser._option_string_actions
    missing = [flag for flag in vllm_serve._option_string_actions if flag not in ours]
    assert missing == []
    negatives = {f"--no-{flag[2:]}" for flag in NEGATABLE}  # honoured, vLLM's default: not worth a line
    hidden = {flag for flag, action in ours.items() if action.help is argparse.SUPPRESS} - negatives
    refused = ENGINE.keys() | {flag[2:].replace("-", "_") for flag in SERVE}
    assert {ours[flag].dest for flag in hidden} <= refused  # hidden: only what is refused
    assert all(action.help is argparse.SUPPRESS for action in ours.values() if action.dest in ENGINE)
    assert set(ENGINE_SAMPLES) == set(ENGINE)


@pytest.mark.parametrize("flag", list(SERVE))
def test_a_vllm_serve_flag_thinkserve_lacks_is_refused_by_name(
    flag: str, parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = refused_form(flag)
    error = refusal(parser, argv, capsys)
    assert argv[0] in error and "is a `vllm serve` flag thinkserve does not support" in error
    assert SERVE[flag].why in error


@pytest.mark.parametrize("dest", list(ENGINE))
def test_an_engine_flag_thinkserve_cannot_run_with_is_refused_by_name(
    dest: str, parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ENGINE_SAMPLES[dest]
    error = refusal(parser, argv, capsys)
    assert argv[0] in error and ENGINE[dest].why in error


@pytest.mark.parametrize(
    "argv",
    [
        ["-asc", "1"],
        ["--api-server-count", "1"],
        ["--response-role", "assistant"],
        ["--chat-template-content-format", "string"],
        ["--sse-keep-alive-interval", "0"],
        ["--enable-prompt-tokens-details"],
        ["--enable-request-id-headers"],
        ["--no-tokens-only"],
        ["--no-skip-tokenizer-init"],
        ["--runner", "generate"],
        ["--convert", "none"],
        ["--fingerprint-mode", "none"],
        ["--data-parallel-size", "2"],
        ["--data-parallel-size", "2", "--data-parallel-size-local", "1", "--data-parallel-hybrid-lb"],
        ["--data-parallel-size", "2", "--data-parallel-size-local", "1", "--data-parallel-rank", "1"],
    ],
)
def test_a_value_that_asks_for_what_thinkserve_does_is_taken(argv: list[str], parser: argparse.ArgumentParser) -> None:
    applied(parser, argv)


def test_data_parallel_ranks_on_other_nodes_behind_this_server_are_refused(
    parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    error = refusal(parser, ["--data-parallel-size", "4", "--data-parallel-size-local", "2"], capsys)
    assert "--data-parallel-size-local 2 below --data-parallel-size 4" in error and "--headless" in error


def test_shutdown_timeout_is_the_grace_period() -> None:
    from server.cli import parse

    settings, engine_args = parse(["--shutdown-timeout", "7"])
    assert settings.shutdown_grace_period == 7.0
    assert engine_args.shutdown_timeout == 0  # the engine stops once the server has drained: at once
    settings, engine_args = parse(["--shutdown-timeout", "0"])
    assert settings.shutdown_grace_period == 0.0  # vLLM's 0: in-flight requests are aborted at once
    settings, engine_args = parse(["--shutdown-timeout", "12", "--shutdown-grace-period", "12"])
    assert settings.shutdown_grace_period == 12.0
    settings, engine_args = parse([])
    assert settings.shutdown_grace_period == 30.0 and engine_args.shutdown_timeout == 0  # vLLM's default engine's


def test_a_shutdown_timeout_and_a_different_grace_period_are_refused(
    parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    error = refusal(parser, ["--shutdown-timeout", "5", "--shutdown-grace-period", "30"], capsys)
    assert "--shutdown-timeout 5 and --shutdown-grace-period 30" in error


def test_vllm_serve_model_positional_and_its_forms_of_flags() -> None:
    from server.cli import parse

    settings, engine_args = parse(["/models/other", "--api-key", "k1", "k2"])
    assert engine_args.model == "/models/other" and settings.api_keys() == ("k1", "k2")
    assert not settings.enable_auto_tool_choice  # the shipped model's tool defaults are its own
    settings, _ = parse(["--no-enable-auto-tool-choice"])
    assert not settings.enable_auto_tool_choice


def test_a_config_file_is_read_and_its_flags_checked(
    tmp_path: Path, parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli import parse

    config = tmp_path / "serve.yaml"
    config.write_text("shutdown-timeout: 4\nmax-n: 3\n")
    settings, _ = parse(["--config", str(config)])
    assert settings.shutdown_grace_period == 4.0 and settings.max_n == 3
    config.write_text("skip-tokenizer-init: true\n")
    assert "--skip-tokenizer-init" in refusal(parser, ["--config", str(config)], capsys)
    assert "--config x.yaml" in refusal(parser, ["--config=x.yaml"], capsys)


def test_the_chat_template_flags_and_the_root_path_are_settings(tmp_path: Path) -> None:
    from server.cli import parse

    template = tmp_path / "chat.jinja"
    template.write_text("{{ messages[0]['content'] }}")
    kwargs = '{"enable_thinking": false}'
    argv = ["--chat-template", str(template), "--default-chat-template-kwargs", kwargs, "--root-path", "/proxy"]
    settings, _ = parse(argv)
    assert settings.server_chat_template() == "{{ messages[0]['content'] }}"  # the file's text
    assert settings.default_chat_template_kwargs == {"enable_thinking": False} and settings.root_path == "/proxy"
    settings, _ = parse(["--chat-template", "{% for m in messages %}{{ m['content'] }}{% endfor %}"])
    assert settings.server_chat_template() == "{% for m in messages %}{{ m['content'] }}{% endfor %}"  # inline
    settings, _ = parse([])
    assert settings.server_chat_template() is None and settings.default_chat_template_kwargs == {}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--chat-template", "/nonexistent/chat.jinja"], "--chat-template: '/nonexistent/chat.jinja' looks like a"),
        (["--chat-template", "{% if %}"], "--chat-template: the template does not parse"),
        (["--default-chat-template-kwargs", '{"tools": []}'], "--default-chat-template-kwargs: tools is set by"),
        (["--default-chat-template-kwargs", "[1]"], "--default-chat-template-kwargs: a JSON object"),
    ],
)
def test_a_chat_template_or_defaults_the_server_cannot_use_are_refused(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli import parse

    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert exited.value.code == 2 and named in capsys.readouterr().err


def test_a_missing_chat_template_fails_before_the_engine_starts() -> None:
    result = run_server("--chat-template", "/nonexistent")
    assert result.returncode == 2 and "--chat-template: '/nonexistent' looks like a file path" in result.stderr
    output = result.stdout + result.stderr
    assert "listening on" not in output and "EngineCore" not in output


def test_the_process_refuses_before_it_binds_or_starts_an_engine() -> None:
    result = run_server("--skip-tokenizer-init")
    assert result.returncode == 2
    assert "--skip-tokenizer-init is a vLLM flag thinkserve does not support" in result.stderr
    output = result.stdout + result.stderr
    assert "listening on" not in output and "EngineCore" not in output


def test_help_lists_no_refused_flag() -> None:
    listed = run_server("--help=all").stdout
    assert "--shutdown-timeout" in listed and "--shutdown-grace-period" in listed and "--api-key" in listed
    assert "--chat-template" in listed and "--default-chat-template-kwargs" in listed and "--root-path" in listed
    for flag in [*SERVE, "--skip-tokenizer-init", "--enable-sleep-mode", "--reasoning-config", "--nnodes"]:
        assert f"{flag} " not in listed and f"{flag}," not in listed and f"{flag}\n" not in listed, flag


def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
