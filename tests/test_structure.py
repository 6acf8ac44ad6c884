"""The package's shape: folders are layers, imports only go down, files stay small."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "server"
# Lowest first: a module may import its own layer and the ones before it.
LAYERS = ["protocol", "thinking", "engine", "ops", "serving", "api"]
TOP = len(LAYERS)  # server/cli.py, server/__init__.py, server/__main__.py
MAX_LINES = 300


def layer(module: str) -> int:
    if module == "server":
        return 0  # the package root holds __version__ and imports nothing eagerly (its exports are lazy)
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else TOP


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("server"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("server")}
    return found


def module_of(path: Path) -> str:
    return ".".join(("server", *path.relative_to(SERVER).with_suffix("").parts))


def test_imports_never_go_up_a_layer() -> None:
    upward = [
        f"{module_of(path)} -> {target}"
        for path in SERVER.rglob("*.py")
        for target in imports(path)
        if layer(target) > layer(module_of(path))
    ]
    assert upward == []


def test_the_serving_code_and_the_engine_types_import_no_vllm() -> None:
    """Only the adapters (engine, tool parsers, the structured outputs' reasoning gate), the two budget processors
    and the engine's process setup know vLLM; the rest uses our types."""
    allowed = {
        "server.engine.vllm_engine", "server.engine.forcing.v1", "server.engine.forcing.v2",
        "server.engine.forcing.engine_tokenizer", "server.engine.process_group", "server.cli",
        "server.engine.tool_calls", "server.engine.reasoning_gate",
    }  # fmt: skip
    offenders = [
        module_of(path)
        for path in SERVER.rglob("*.py")
        if module_of(path) not in allowed and "vllm" in {name.split(".")[0] for name in _all_imports(path)}
    ]
    assert offenders == []


def _all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_no_module_is_over_300_lines() -> None:
    long = {module_of(p): n for p in SERVER.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_budget_kernel_and_its_rules_import_no_vllm() -> None:
    """The kernel is torch only, and what the front end loads to validate a request is lighter still."""
    kernel = {"server.engine.forcing.kernel", "server.engine.forcing.table", "server.engine.forcing.plans"}
    heavy = {m: names for m in kernel if "vllm" in (names := {n.split(".")[0] for n in _all_imports(_path(m))})}
    assert heavy == {}
    assert "torch" not in {n.split(".")[0] for n in _all_imports(_path("server.engine.forcing.plans"))}


def _path(module: str) -> Path:
    return SERVER.joinpath(*module.split(".")[1:]).with_suffix(".py")
