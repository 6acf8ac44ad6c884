"""Command line: the server's own flags plus every vLLM engine flag (``AsyncEngineArgs``).

With no arguments it serves the shipped tiny model on 127.0.0.1:8000, with engine
defaults that fit a CPU-only machine (a 20% RAM KV cache, eager mode).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import socket
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from server.ops.adapters import AdapterError, settle_lora_flags
from server.ops.root_path import with_root_path
from server.ops.settings import SHIPPED_MODEL, SHIPPED_MODEL_NAME, Settings
from server.vllm_flags import add_vllm_serve_flags, apply_vllm_serve_flags, check_chat_template, json_object

if TYPE_CHECKING:
    from server.api.app import Lifecycle

logger = logging.getLogger("server")
# On CPU, a seeded request whose prefill is split across steps kills vLLM 0.32's engine ("CPU Generator does
# not use offset"): prompts are prefilled whole there (tests/e2e/test_operations.py keeps this honest).
CPU_DEFAULTS = {"gpu_memory_utilization": 0.2, "enforce_eager": True, "enable_chunked_prefill": False}
SHUTDOWN_NUDGE_S = 5.0
SERVER_FLAGS = (
    "host", "port", "http_log_level", "max_n", "thinking_format", "thinking_start", "thinking_end",
    "reasoning_parser", "min_thinking_tokens", "max_thinking_tokens",
    "min_thinking_waits", "thinking_wait_string", "thinking_answer_prefix", "reasoning_effort_budgets",
    "thinking_wait_strings", "thinking_end_grace", "thinking_wrapup_string", "thinking_loop_guard",
    "api_key", "api_key_file", "auth_paths", "max_concurrent_requests", "max_request_bytes", "max_messages",
    "shutdown_grace_period", "keep_alive_timeout", "reasoning_field", "include_answer_prefix",
    "allowed_origins", "allowed_methods", "allowed_headers", "allow_credentials", "enable_server_load_tracking",
    "enable_auto_tool_choice", "tool_call_parser", "tool_parser_plugin", "trust_request_chat_template",
    "return_tokens_as_token_ids", "chat_template", "default_chat_template_kwargs", "root_path",
)  # fmt: skip
# The shipped model writes hermes tool calls (<tool_call>{"name": …, "arguments": …}</tool_call>): served with tools on.
SHIPPED_TOOLS = {"enable_auto_tool_choice": True, "tool_call_parser": "hermes"}


def switch(group: Any, flag: str, help: str) -> None:
    """A flag that turns something on; unset (None) leaves the setting to its default or environment variable."""
    group.add_argument(flag, action="store_true", default=None, help=help)


def build_parser() -> argparse.ArgumentParser:
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.platforms import current_platform
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog="thinkserve", description=__doc__)
    group = parser.add_argument_group("server", "HTTP front end (also THINKSERVE_<NAME> environment variables)")
    group.add_argument("--host", help="Address to bind (default 127.0.0.1).")
    group.add_argument("--port", type=int, help="Port to listen on (default 8000).")
    group.add_argument(
        "--uvicorn-log-level", dest="http_log_level", help="Log level of the HTTP front end (default info)."
    )
    group.add_argument("--max-n", type=int, help="Largest `n` accepted per request (default 16).")
    group.add_argument("--root-path", help="The path prefix a proxy in front strips (uvicorn's root_path).")
    ops = parser.add_argument_group("operations and security", "Limits, API keys, shutdown.")
    ops.add_argument("--api-key", action="extend", nargs="+", help="Accepted API keys (THINKSERVE_API_KEY=k1,k2).")
    ops.add_argument("--api-key-file", help="A file of API keys, one per line, re-read when it changes.")
    ops.add_argument("--auth-paths", nargs="+", help="Path prefixes that need a key (default /v1).")
    ops.add_argument("--max-concurrent-requests", type=int, help="Completions at once; beyond: 429 (default 512).")
    ops.add_argument("--max-request-bytes", type=int, help="Largest request body; beyond: 413 (default 16 MiB).")
    ops.add_argument("--max-messages", type=int, help="Most chat messages per request (default 2048).")
    ops.add_argument(
        "--enable-server-load-tracking",
        action=argparse.BooleanOptionalAction,
        help="GET /load counts the generation requests in flight, as vllm serve's (off: 0).",
    )
    ops.add_argument("--shutdown-grace-period", type=float, help="Seconds to finish requests on SIGTERM (30).")
    ops.add_argument(
        "--keep-alive-timeout", type=float, help="Idle keep-alive seconds (65: longer than clients keep them)."
    )
    cors = parser.add_argument_group("CORS", "Cross-origin browser access, as `vllm serve` has it.")
    cors.add_argument("--allowed-origins", type=json.loads, help="JSON list of allowed origins (default [], none).")
    cors.add_argument("--allowed-methods", type=json.loads, help='JSON list of allowed methods (default ["*"]).')
    cors.add_argument("--allowed-headers", type=json.loads, help='JSON list of allowed headers (default ["*"]).')
    cors.add_argument("--allow-credentials", action=argparse.BooleanOptionalAction, help="Allow credentials (off).")
    budget = parser.add_argument_group("thinking budget", "Defaults for s1 budget forcing; requests override them.")
    budget.add_argument(
        "--thinking-format",
        choices=["auto", "think", "mistral", "seed", "s1"],
        help="Thinking delimiters (auto: from --reasoning-parser, else the tokenizer and chat template).",
    )
    budget.add_argument("--thinking-start", help="Start of thinking for a family no format names (+ --thinking-end).")
    budget.add_argument("--thinking-end", help="End of thinking; must start with a token of its own (e.g. </think>).")
    budget.add_argument("--min-thinking-tokens", type=int, help="Default minimum thinking tokens (0).")
    budget.add_argument("--max-thinking-tokens", type=int, help="Default maximum thinking tokens (none).")
    budget.add_argument("--min-thinking-waits", type=int, help="Default ignored attempts to end the thinking (0).")
    budget.add_argument("--thinking-wait-string", help="What replaces an early end of thinking (Wait).")
    budget.add_argument("--thinking-answer-prefix", help="Forced after the end at the maximum (Final Answer:).")
    budget.add_argument(
        "--thinking-wait-strings", nargs="+", help="Wait strings used in turn (e.g. Wait Hmm Alternatively; 1 to 8)."
    )
    budget.add_argument("--thinking-end-grace", type=int, help="Tokens past the maximum to end a line (0; <= 256).")
    budget.add_argument("--thinking-wrapup-string", help="Forced before the end the maximum forces (none).")
    budget.add_argument(
        "--thinking-loop-guard",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Close a thinking that loops; no more forced waits (off; requests override it).",
    )
    budget.add_argument(
        "--reasoning-effort-budgets", type=json.loads, help="JSON: reasoning_effort to max thinking tokens"
    )
    answer = parser.add_argument_group("thinking and answer", "How chat responses show the thinking.")
    answer.add_argument(
        "--reasoning-field",
        choices=["reasoning_content", "reasoning", "both"],
        help="Where messages and deltas carry the thinking (reasoning_content: read by litellm, LangChain, "
        "openai-agents; both makes some clients show it twice).",
    )
    answer.add_argument(
        "--include-answer-prefix",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Keep a forced answer prefix (Final Answer:) in the answer; requests override it (default: left out).",
    )
    switch(
        answer,
        "--return-tokens-as-token-ids",
        "Logprobs name each token token_id:N, as vllm serve's flag; requests override it (off).",
    )
    tools = parser.add_argument_group("tools", "Tool calling, as `vllm serve` takes it (on for the shipped model).")
    switch(
        tools,
        "--enable-auto-tool-choice",
        'tool_choice "auto" (the default with tools): the model decides to call; needs --tool-call-parser.',
    )
    tools.add_argument("--tool-call-parser", help="vLLM's tool parser for the model's format (hermes, qwen3_xml, …).")
    tools.add_argument("--tool-parser-plugin", help="A Python file that registers a tool parser of your own.")
    switch(
        ops,
        "--trust-request-chat-template",
        "Take a request's chat_template, as vllm serve's flag (off: such a request is a 400).",
    )
    chat = parser.add_argument_group("chat template", "As `vllm serve` takes them; a request's own win.")
    chat.add_argument("--chat-template", help="Over the tokenizer's template: a file, or the Jinja template inline.")
    chat.add_argument(
        "--default-chat-template-kwargs",
        type=json_object,
        help='JSON template arguments, e.g. {"enable_thinking": false}.',
    )
    lora = parser.add_argument_group("LoRA adapters", "Served beside the base model, as `vllm serve` serves them.")
    lora.add_argument(
        "--lora-modules",
        nargs="+",
        help="Adapters served as models of their own (needs --enable-lora): name=path, or JSON "
        '{"name": …, "path": …, "base_model_name": …}.',
    )
    AsyncEngineArgs.add_cli_args(parser)
    parser.set_defaults(model=str(SHIPPED_MODEL), **(CPU_DEFAULTS if current_platform.is_cpu() else {}))
    add_vllm_serve_flags(parser)
    return parser


def parse(argv: list[str] | None = None) -> tuple[Settings, Any]:
    """Settings for the front end and ``AsyncEngineArgs`` for the engine."""
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.platforms import current_platform

    parser = build_parser()
    args = parser.parse_args(argv)
    apply_vllm_serve_flags(parser, args)  # refusals exit 2 here, before anything starts
    if args.api_key:
        args.api_key = ",".join(args.api_key)
    if args.served_model_name is None and args.model == str(SHIPPED_MODEL):
        args.served_model_name = [SHIPPED_MODEL_NAME]
    overrides = {name: getattr(args, name) for name in SERVER_FLAGS}
    if args.model == str(SHIPPED_MODEL) and args.tool_call_parser is None and args.enable_auto_tool_choice is None:
        overrides.update(SHIPPED_TOOLS)
    if args.lora_modules is not None:
        overrides["lora_modules"] = args.lora_modules
    settings = Settings(**{name: value for name, value in overrides.items() if value is not None})
    check_chat_template(parser, settings)  # THINKSERVE_CHAT_TEMPLATE's too
    try:  # refused before the engine starts, as vLLM's parser refuses them
        settle_lora_flags(args, settings.adapters(), on_cpu=current_platform.is_cpu())
    except AdapterError as exc:
        parser.error(str(exc))
    engine_args = AsyncEngineArgs.from_cli_args(args)
    return settings, engine_args


class Server(uvicorn.Server):
    """uvicorn, plus: SIGTERM drains (new completions get 503), and a dead engine ends the process non-zero."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle, self.exit_code = lifecycle, 0
        lifecycle.engine_died = self.engine_died

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.lifecycle.admission.draining:
            self.lifecycle.admission.draining = True
            grace = self.config.timeout_graceful_shutdown or 0
            nudge = threading.Timer(grace + SHUTDOWN_NUDGE_S, self._nudge)
            nudge.daemon = True  # a clean exit does not wait for it
            nudge.start()
        super().handle_exit(sig, frame)

    def _nudge(self) -> None:
        """A shutdown still running past the grace period (seen now and then under load: the event loop idle
        in a syscall after the last response) gets a second signal, which wakes it; requests are done by then."""
        logger.warning("graceful shutdown still running %.0f s after the grace period: nudging it", SHUTDOWN_NUDGE_S)
        self.force_exit = True
        signal.raise_signal(signal.SIGTERM)

    def engine_died(self) -> None:
        self.exit_code, self.should_exit = 1, True


def bind(settings: Settings) -> socket.socket:
    """The listening address, taken before the engine starts: the engine's processes open ports of their own
    (ZMQ, torch.distributed), and one of them could otherwise take ours. Bound, not yet listening: until the
    engine is up, connections are refused rather than left waiting in the backlog."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart needn't wait out TIME_WAIT
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        logger.error("cannot listen on %s port %d: %s", settings.host, settings.port, exc)
        sys.exit(3)  # uvicorn's startup failure
    # A forked engine process would hold the socket open after the server closes it on shutdown, and the kernel
    # would keep queueing connections nobody accepts; closed in every forked child, they are refused instead.
    os.register_at_fork(after_in_child=sock.close)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(asctime)s [%(name)s] %(message)s")
    settings, engine_args = parse(argv)
    logger.setLevel(settings.http_log_level.upper())
    sock = bind(settings)
    from server.engine.process_group import engine_in_own_process_group

    engine_in_own_process_group()
    settings = settings.model_copy(update={"port": sock.getsockname()[1]})  # --port 0: the one the OS chose
    logger.info("listening on %s (starting the engine)", url_of(sock))

    from server.api.app import Lifecycle, create_app
    from server.engine.vllm_engine import run_vllm_engine

    lifecycle = Lifecycle.of(settings)
    lifetime = functools.partial(run_vllm_engine, engine_args, settings.format_choice(), settings.adapters())
    app = create_app(settings, lifetime, lifecycle)
    config = uvicorn.Config(
        with_root_path(app, settings.root_path),  # uvicorn's root_path would prefix the paths the gate reads
        host=settings.host,
        port=settings.port,
        log_level=settings.http_log_level,
        access_log=False,  # server.access logs one structured line per request
        timeout_graceful_shutdown=settings.shutdown_grace_period,
        # The server must not close an idle connection a client is about to reuse: a request sent into
        # that race fails with a connection reset. Clients and load balancers expire theirs sooner.
        timeout_keep_alive=settings.keep_alive_timeout,
    )
    server = Server(config, lifecycle)
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; the default handlers would then kill the
    # process (exit -15, or a KeyboardInterrupt traceback). A drained server exits 0, as Kubernetes expects.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda *_: None)
    server.run(sockets=[sock])
    sys.exit(server.exit_code or (0 if server.started else 3))  # 3: uvicorn's startup failure


if __name__ == "__main__":
    main()
