"""`vllm serve`'s command line on thinkserve's: each of its flags honoured, or refused at startup by name.

thinkserve takes every vLLM engine flag (``AsyncEngineArgs``) and the front-end flags of ``vllm serve`` it has an
equivalent for (``--api-key``, ``--allowed-origins``, ``--tool-call-parser``, ``--chat-template``, …, and
``vllm serve MODEL``). The other front-end flags (vLLM 0.32's ``vllm/entrypoints/launchers/cli_args.py``), and the
engine flags whose use is the API server's rather than the engine's, are parsed only to be refused with the reason,
before the engine starts and as argparse refuses (exit 2); ``--help`` hides them. A flag unknown to both is
argparse's "unrecognized arguments". ``--shutdown-timeout`` is ``vllm serve``'s name for ``--shutdown-grace-period``.
``tests/test_vllm_flags.py`` holds these tables against vLLM's own parser: a flag vLLM adds fails it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from server.ops.chat_template import ChatTemplateError
from server.ops.settings import Settings
from server.serving.prompts import reserved_kwargs

Fine = Callable[[Any], bool]
README = 'see the README\'s "vllm serve flags"'
SUPPRESS = argparse.SUPPRESS


def only(*values: Any) -> Fine:
    """Besides the flag's default, the values that ask for what thinkserve does anyway."""
    return lambda value: value in values


DEFAULT_ONLY = only()


@dataclass(frozen=True)
class Refused:
    """Why thinkserve cannot honour a flag, and the values it takes all the same (by default: the default)."""

    why: str
    fine: Fine = DEFAULT_ONLY
    # The argument a `vllm serve` flag thinkserve lacks is parsed with: one value, --x/--no-x, or a bare --x.
    kind: Literal["value", "bool", "switch"] = "value"
    alias: str | None = None


TLS = "thinkserve serves plain HTTP: terminate TLS in front of it (an ingress, a load balancer, a sidecar)"
UNLOGGED = "thinkserve never logs prompts or outputs (one JSON line per request, without them)"
TEXT = "thinkserve's requests are text (content parts other than text are refused by name)"
SUPERVISED = "it configures the supervisor of --data-parallel-multi-port-external-lb, which thinkserve does not run"
TOKENS = "thinkserve serves the OpenAI, Anthropic and Responses APIs, not vLLM's tokens-in/tokens-out endpoints"
POOLING = "thinkserve serves text generation, not pooling (embeddings, classification, scores)"
ENDPOINTS = "thinkserve has none of the `vllm serve` endpoints that use it ({})"
FIELDS = "thinkserve's API has none of the request or response fields it enables ({})"
ELSEWHERE = (
    "the engines on the other nodes would be started by `vllm serve --headless`, configured without thinkserve's "
    "budget processor: across nodes, run thinkserve over Ray (--distributed-executor-backend ray)"
)

# `vllm serve`'s front-end flags that thinkserve does not take; its own flags honour the others.
SERVE: dict[str, Refused] = {
    "--headless": Refused("it runs engines with no API server, and thinkserve is the API server; " + ELSEWHERE,
                          kind="switch"),
    "--api-server-count": Refused("thinkserve is one API server process, whose engine client spreads requests over "
                                  "every data-parallel engine (`vllm serve --api-server-count 1`)", only(1),
                                  alias="-asc"),
    "--grpc": Refused("thinkserve serves HTTP only", kind="switch"),
    "--grpc-port": Refused("thinkserve serves HTTP only"),
    "--data-parallel-supervisor-port": Refused(SUPERVISED),
    "--dp-supervisor-probe-interval-s": Refused(SUPERVISED),
    "--dp-supervisor-probe-timeout-s": Refused(SUPERVISED),
    "--dp-supervisor-probe-failure-threshold": Refused(SUPERVISED),
    "--tokens-only": Refused(TOKENS, only(False), kind="bool"),
    "--enable-scale-out": Refused(TOKENS, only(False), kind="bool"),
    "--uds": Refused("thinkserve listens on TCP (--host, --port)"),
    "--ssl-keyfile": Refused(TLS),
    "--ssl-certfile": Refused(TLS),
    "--ssl-ca-certs": Refused(TLS),
    "--ssl-cert-reqs": Refused(TLS),
    "--ssl-ciphers": Refused(TLS),
    "--enable-ssl-refresh": Refused(TLS, only(False), kind="bool"),
    "--h11-max-incomplete-event-size": Refused("thinkserve keeps uvicorn's header limits (--max-request-bytes "
                                               "bounds request bodies)"),
    "--h11-max-header-count": Refused("thinkserve keeps uvicorn's header limits"),
    "--middleware": Refused("thinkserve loads no ASGI middleware of yours"),
    "--disable-fastapi-docs": Refused("thinkserve always serves /docs and /openapi.json", only(False), kind="bool"),
    "--enable-offline-docs": Refused("thinkserve serves FastAPI's own /docs", only(False), kind="bool"),
    "--enable-request-id-headers": Refused("thinkserve always answers with X-Request-Id", only(True), kind="bool"),
    "--disable-uvicorn-access-log": Refused("thinkserve has no uvicorn access log: it logs one JSON line per request "
                                            "on the server.access logger", only(False), kind="bool"),
    "--disable-access-log-for-endpoints": Refused("thinkserve never logs /health, /ping, /load and /metrics, "
                                                  "and logs every other request"),
    "--max-log-len": Refused(UNLOGGED),
    "--enable-log-outputs": Refused(UNLOGGED, only(False), kind="bool"),
    "--enable-log-deltas": Refused(UNLOGGED, kind="bool"),
    "--log-error-stack": Refused("thinkserve logs the stack of every server error (500) and of no refusal",
                                 kind="bool"),
    "--chat-template-content-format": Refused("thinkserve gives the template each message's content as a string "
                                              "(its text parts joined)", only("string")),
    "--response-role": Refused("thinkserve's replies have the role assistant", only("assistant")),
    "--trust-request-mm-kwargs": Refused(TEXT, only(False), kind="bool"),
    "--exclude-tools-when-tool-choice-none": Refused('with tool_choice "none" thinkserve shows the template the '
                                                     "tools, as vllm serve does by default", only(False), kind="bool"),
    "--tool-strict-level": Refused("thinkserve holds a required or named tool choice to its grammar and leaves "
                                   '"auto" free: there is no server-wide level'),
    "--tool-server": Refused("thinkserve runs no built-in tools: the client runs its functions"),
    "--enable-prompt-tokens-details": Refused("thinkserve always reports prompt_tokens_details (the prefix-cache "
                                              "hits)", only(True), kind="bool"),
    "--enable-per-request-metrics": Refused("thinkserve's responses carry no timings: /metrics has them",
                                            only(False), kind="bool"),
    "--enable-force-include-usage": Refused("thinkserve sends usage in every reply, and in a stream when "
                                            "stream_options.include_usage asks", only(False), kind="bool"),
    "--sse-keep-alive-interval": Refused("thinkserve sends no SSE keep-alive comments", only(0)),
    "--enable-tokenizer-info-endpoint": Refused(ENDPOINTS.format("/tokenizer_info"), only(False), kind="bool"),
    "--cohere-is-reasoning-model": Refused(ENDPOINTS.format("/cohere/v2/chat"), kind="bool"),
    "--cohere-format": Refused(ENDPOINTS.format("/cohere/v2/chat")),
    "--anthropic-disabled-thinking-effort": Refused('thinkserve turns thinking off for thinking: {"type": '
                                                    '"disabled"} in the template where it has a switch, and '
                                                    "with a budget of 0 everywhere"),
    "--fingerprint-mode": Refused("thinkserve's responses have no system_fingerprint", only("none")),
    "--fingerprint-value": Refused("thinkserve's responses have no system_fingerprint"),
    "--enable-flash-late-interaction": Refused(POOLING, kind="bool"),
}  # fmt: skip

# Engine flags (AsyncEngineArgs, by dest) whose use is `vllm serve`'s front end's, or that thinkserve cannot serve.
ENGINE: dict[str, Refused] = {
    "skip_tokenizer_init": Refused("thinkserve renders chat templates and finds the thinking delimiters with the "
                                   "model's tokenizer"),
    "enable_prompt_embeds": Refused(FIELDS.format("prompt_embeds")),
    "enable_mm_embeds": Refused(TEXT),
    "allowed_local_media_path": Refused(TEXT),
    "allowed_media_domains": Refused(TEXT),
    "media_io_kwargs": Refused(TEXT),
    "enable_return_routed_experts": Refused(FIELDS.format("routed experts")),
    "return_sampling_mask": Refused(FIELDS.format("sampling masks")),
    "enable_trace_replay": Refused(FIELDS.format("trace_decode_token_ids")),
    "enable_sleep_mode": Refused(ENDPOINTS.format("/sleep, /wake_up")),
    "enable_elastic_ep": Refused(ENDPOINTS.format("/scale_elastic_ep")),
    "enable_fault_tolerance": Refused(ENDPOINTS.format("/fault_tolerance")),
    "weight_transfer_config": Refused(ENDPOINTS.format("the weight updates of RL training")),
    "renderer_num_workers": Refused("thinkserve renders prompts in its own front end, not in vLLM's renderer"),
    "runner": Refused(POOLING, only("generate")),
    "convert": Refused(POOLING, only("none")),
    "pooler_config": Refused(POOLING),
    "io_processor_plugin": Refused(POOLING),
    "override_generation_config": Refused("thinkserve applies no generation config's sampling defaults: a request's "
                                          "own values, else OpenAI's defaults"),
    "reasoning_config": Refused("it configures vLLM's thinking_token_budget processor; thinkserve's own budget "
                                "forcing takes thinking_token_budget (--thinking-end, --thinking-answer-prefix)"),
    "data_parallel_multi_port_external_lb": Refused("vllm serve runs a supervisor and one API server per rank for "
                                                    "it; run one thinkserve per rank (--data-parallel-rank)"),
    "nnodes": Refused("with the mp backend, " + ELSEWHERE),
    "node_rank": Refused("with the mp backend, " + ELSEWHERE),
}  # fmt: skip

# `vllm serve`'s switches that thinkserve honours; each also has vLLM's --no- form.
NEGATABLE = ("--enable-auto-tool-choice", "--trust-request-chat-template", "--return-tokens-as-token-ids")


def add_vllm_serve_flags(parser: argparse.ArgumentParser) -> None:
    """After every other flag: `vllm serve MODEL`, the --no- forms, the refused flags (hidden), --shutdown-timeout."""
    parser.add_argument("model_tag", nargs="?", metavar="MODEL", help="The model to serve, as `vllm serve MODEL`.")
    parser.add_argument("--config", metavar="FILE", help="A YAML file of flags, as vllm serve's (keys: flag names).")
    flags = parser._option_string_actions
    for flag in NEGATABLE:
        negative = f"--no-{flag[2:]}"
        if flag in flags and negative not in flags:
            parser.add_argument(negative, dest=flags[flag].dest, action="store_false", default=None, help=SUPPRESS)
    for flag, refused in SERVE.items():
        if flag not in flags:  # a flag of thinkserve's own that honours it wins
            _add_refused(parser, flag, refused)
    for action in parser._actions:
        if action.dest in ENGINE:
            action.help = SUPPRESS
    timeout = flags["--shutdown-timeout"]
    timeout.default, timeout.help = None, "vllm serve's name for --shutdown-grace-period (0: abort at once)."


def _add_refused(parser: argparse.ArgumentParser, flag: str, refused: Refused) -> None:
    names = (flag, refused.alias) if refused.alias else (flag,)
    if refused.kind == "value":
        parser.add_argument(*names, help=SUPPRESS, type=_number_or_text)
    else:
        action = argparse.BooleanOptionalAction if refused.kind == "bool" else "store_true"
        parser.add_argument(*names, action=action, default=None, help=SUPPRESS)


def _number_or_text(value: str) -> Any:
    """A refused flag's value, as vLLM types it where a value is fine (``--api-server-count 1``)."""
    try:
        return int(value)
    except ValueError:
        return value


def apply_vllm_serve_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (exit 2, naming the flag) what thinkserve cannot do, before anything starts; map what it can."""
    flags = parser._option_string_actions
    for flag, refused in SERVE.items():
        if flags[flag].help is SUPPRESS:
            _check(parser, flags[flag], getattr(args, flags[flag].dest), refused, "is a `vllm serve` flag")
    for action in parser._actions:
        if action.dest in ENGINE:
            _check(parser, action, getattr(args, action.dest), ENGINE[action.dest], "is a vLLM flag")
    if args.config is not None:  # FlexibleArgumentParser reads `--config FILE` itself, never `--config=FILE`
        parser.error(f"--config={args.config}: give the file as the next argument, --config {args.config}")
    if _engines_elsewhere(args):
        local, size = args.data_parallel_size_local, args.data_parallel_size
        parser.error(
            f"--data-parallel-size-local {local} below --data-parallel-size {size} is a vLLM setting thinkserve does "
            f"not support: {ELSEWHERE}; or run one thinkserve per node (--data-parallel-hybrid-lb); {README}"
        )
    if args.model_tag is not None:
        args.model = args.model_tag  # as vllm serve: the positional model wins over --model
    _shutdown_timeout(parser, args)


def _check(parser: argparse.ArgumentParser, action: argparse.Action, value: Any, refused: Refused, what: str) -> None:
    if value == action.default or refused.fine(value):
        return
    flag = next(name for name in action.option_strings if name.startswith("--"))
    if action.nargs == 0:  # a switch: the form given
        flag = flag if value else f"--no-{flag[2:]}"
    elif isinstance(value, int | float | str):  # not a config vLLM parsed into an object
        flag = f"{flag} {value}"
    parser.error(f"{flag} {what} thinkserve does not support: {refused.why}; {README}")


def _engines_elsewhere(args: argparse.Namespace) -> bool:
    """Internal load balancing over ranks that are not all local: the others are headless engines elsewhere."""
    local, size = args.data_parallel_size_local, args.data_parallel_size
    balanced_per_node = args.data_parallel_external_lb or args.data_parallel_hybrid_lb
    ranked = args.data_parallel_rank is not None or args.data_parallel_start_rank is not None
    return local is not None and local < size and not (balanced_per_node or ranked)


def _shutdown_timeout(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """vLLM's seconds in-flight requests get after SIGTERM (0: aborted at once) are this server's grace period."""
    timeout, grace = args.shutdown_timeout, args.shutdown_grace_period
    if timeout is not None and grace is not None and float(timeout) != grace:
        parser.error(
            f"--shutdown-timeout {timeout} and --shutdown-grace-period {grace:g} both set the seconds in-flight "
            "requests get after SIGTERM: give one"
        )
    if timeout is not None:
        args.shutdown_grace_period = float(timeout)
    args.shutdown_timeout = 0  # the engine's own drain: none, for the server has drained (vLLM's default)


def json_object(value: str) -> dict[str, Any]:
    """``--default-chat-template-kwargs``: a JSON object (vLLM's ``json.loads``; anything else is argparse's error)."""
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError('a JSON object of template arguments, e.g. {"enable_thinking": false}')
    return parsed


def check_chat_template(parser: argparse.ArgumentParser, settings: Settings) -> None:
    """``--chat-template`` read and parsed, ``--default-chat-template-kwargs`` free of the names the server sets:
    refused (exit 2) before the engine starts, as a request's would be refused at its render."""
    try:
        settings.server_chat_template()
    except ChatTemplateError as exc:
        parser.error(f"--chat-template: {exc}")
    reserved = reserved_kwargs(settings.default_chat_template_kwargs)
    if reserved:
        parser.error(f"--default-chat-template-kwargs: {', '.join(reserved)} is set by the server, not the defaults")
