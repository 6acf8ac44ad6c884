"""The Grafana dashboards under ``deploy/grafana/dashboards``: well-formed, portable, and on metrics that exist.

Fast (no engine). ``dashboard_metrics()`` is public: an end-to-end test checks its
names against a live ``/metrics`` scrape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from server.ops.metrics import ServerMetrics

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
MODEL_QUERY = "label_values(vllm:num_requests_running, model_name)"

# vLLM's engine metrics the dashboards may use (labels model_name, engine), as /metrics names them.
VLLM_GAUGES = ["vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"]
VLLM_COUNTERS = [
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
    "vllm:request_success_total",
    "vllm:num_preemptions_total",
    "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_hits_total",
]
VLLM_HISTOGRAMS = [
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:e2e_request_latency_seconds",
    "vllm:request_queue_time_seconds",
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
]
HISTOGRAM_SAMPLES = ("_bucket", "_sum", "_count")
# The server's metrics with a `model` label (vLLM's all have `model_name`): queries must filter by $model.
THINKSERVE_MODEL_METRICS = [
    "thinkserve_time_to_first_token_seconds",
    "thinkserve_budget_requests_total",
    "thinkserve_thinking_tokens",
    "thinkserve_budget_waits_inserted_total",
    "thinkserve_budget_forced_ends_total",
    "thinkserve_budget_max_choices_total",
    "thinkserve_budget_share_used",
    "thinkserve_budget_loops_broken_total",
    "thinkserve_budget_guarded_choices_total",
]

# PromQL words that are not metric names (aggregations, binary operators, modifiers, grouping clauses).
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = AGGREGATIONS | GROUPING | {"bool", "and", "or", "unless", "atan2", "offset", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_VALUES = re.compile(r"\blabel_values\s*\(\s*(?:(?P<metric>.*),)?\s*[A-Za-z_]\w*\s*\)", re.DOTALL)
_TOKEN = re.compile(
    r"(?P<number>0[xX][0-9a-fA-F]+|(?:\d+(?:ms|[smhdwy]))+(?![\w.])|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_:][\w:]*)"
    r"|(?P<other>\S)"
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana ``label_values(...)`` query) refers to, as written.

    Histogram samples keep their suffix (``x_bucket``); counters their ``_total``. Functions,
    aggregations, keywords, grouping labels (``by (le)``), label matchers, ranges, numbers,
    durations and Grafana variables are not metric names.
    """
    text = _STRING.sub('""', expr)
    text = re.sub(r"#[^\n]*", " ", text)  # comments
    text = _LABEL_VALUES.sub(lambda m: f" {m['metric'] or ''} ", text)  # label_values([metric,] label)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # Grafana variables
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "name" and value.lower() in GROUPING and following == "(":
            i = tokens.index(("other", ")"), i + 1)  # skip the label list
        elif kind == "name" and following != "(" and value.lower() not in KEYWORDS:
            names.add(value)
        i += 1
    return names


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels (collapsed rows) included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in panels(board):
        yield from panel.get("targets", [])


def variable(board: dict[str, Any], name: str) -> dict[str, Any]:
    found = [v for v in board["templating"]["list"] if v["name"] == name]
    assert len(found) == 1, f"one template variable {name!r}"
    return found[0]


def variable_query(var: dict[str, Any]) -> str:
    query = var["query"]
    return query["query"] if isinstance(query, dict) else query


def dashboard_metrics() -> set[str]:
    """Every metric name the dashboards use: in every target of every panel, and in the ``model`` variable."""
    names: set[str] = set()
    for path in DASHBOARDS:
        board = load(path)
        names |= metric_names(variable_query(variable(board, "model")))
        for target in targets(board):
            names |= metric_names(target["expr"])
    return names


def exposed(name: str, kind: str) -> set[str]:
    """The sample names /metrics shows for a metric."""
    return {name + suffix for suffix in HISTOGRAM_SAMPLES} if kind == "histogram" else {name}


def model_label(name: str) -> str | None:
    """The label that carries the served model's name on this metric (sample name), None if none."""
    if name.startswith("vllm:"):
        return "model_name"
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return "model" if name in THINKSERVE_MODEL_METRICS or base in THINKSERVE_MODEL_METRICS else None


@cache
def known_metrics() -> frozenset[str]:
    """vLLM's metrics above and the server's own, read from a fresh registry (so a renamed metric fails here)."""
    names = {*VLLM_GAUGES, *VLLM_COUNTERS}.union(*(exposed(name, "histogram") for name in VLLM_HISTOGRAMS))
    for family in ServerMetrics.create().registry.collect():
        names |= exposed(family.name + ("_total" if family.type == "counter" else ""), family.type)
    return frozenset(names)


# --- metric_names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("vllm:num_requests_running", {"vllm:num_requests_running"}),
        (MODEL_QUERY, {"vllm:num_requests_running"}),
        ("label_values(model_name)", set()),
        ('label_values(vllm:kv_cache_usage_perc{engine="0"}, model_name)', {"vllm:kv_cache_usage_perc"}),
        (
            "histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket"
            '{model_name=~"$model"}[$__rate_interval])))',
            {"vllm:time_to_first_token_seconds_bucket"},
        ),
        (
            "sum(rate(thinkserve_thinking_tokens_sum[5m])) by (model) / sum without (le, instance) "
            "(rate(thinkserve_thinking_tokens_count[1h30m]))",
            {"thinkserve_thinking_tokens_sum", "thinkserve_thinking_tokens_count"},
        ),
        (
            'sum(rate(thinkserve_http_requests_total{status=~"5..", handler!="/metrics"}[$__rate_interval])) '
            "/ on (handler) group_left sum by (handler) (rate(thinkserve_http_requests_total[5m] offset 1d))"
            " > bool 0.1",
            {"thinkserve_http_requests_total"},
        ),
        (
            "vllm:num_requests_waiting > 1e3 and vllm:num_requests_running unless on (model_name) "
            "vllm:kv_cache_usage_perc or ignoring (engine) group_right (instance) up * 2",
            {"vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc", "up"},
        ),
        (
            'topk(5, max_over_time(vllm:kv_cache_usage_perc[10m:1m])) + quantile(0.5, x) + count_values("v", y) '
            '+ label_replace(z, "dst", "$1", "src", "(.*)") + sum by (le) (0x1F * Inf)',
            {"vllm:kv_cache_usage_perc", "x", "y", "z"},
        ),
        ("# a comment\nabsent(thinkserve_client_disconnects_total) * NaN", {"thinkserve_client_disconnects_total"}),
    ],
)
def test_metric_names(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_dashboard_metrics_exist() -> None:
    names = dashboard_metrics()
    assert "vllm:num_requests_running" in names  # the model variable's query
    assert names <= known_metrics(), f"not exposed on /metrics: {sorted(names - known_metrics())}"


# --- every dashboard -------------------------------------------------------------------------------------------


def test_the_dashboards_are_there() -> None:
    assert {path.name for path in DASHBOARDS} >= {"thinkserve-overview.json", "thinkserve-thinking-budget.json"}


@pytest.fixture(params=DASHBOARDS, ids=[path.name for path in DASHBOARDS])
def board(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def test_dashboard_fields(board: dict[str, Any]) -> None:
    assert isinstance(board["uid"], str) and 1 <= len(board["uid"]) <= 40
    assert board["title"] and isinstance(board["tags"], list) and "thinkserve" in board["tags"]
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert set(board["time"]) == {"from", "to"}
    assert board.get("id") is None, "no instance-specific dashboard id"
    assert board["panels"]


def test_dashboard_uids_and_titles_are_unique() -> None:
    boards = [load(path) for path in DASHBOARDS]
    assert len({b["uid"] for b in boards}) == len({b["title"] for b in boards}) == len(boards)


def test_panel_ids_are_unique_integers(board: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in panels(board)]
    assert all(type(i) is int for i in ids)
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"


def test_panels_have_a_grid_position(board: dict[str, Any]) -> None:
    for panel in panels(board):
        pos = panel["gridPos"]
        assert all(type(pos[key]) is int for key in ("h", "w", "x", "y")), panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]


def test_targets_have_an_expr_and_a_unique_ref_id(board: dict[str, Any]) -> None:
    for panel in panels(board):
        if panel["type"] == "row":
            assert not panel.get("targets"), panel["title"]
            continue
        assert panel.get("targets"), f"{panel['title']}: no targets"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert all(ref_ids) and len(ref_ids) == len(set(ref_ids)), f"{panel['title']}: refIds {ref_ids}"
        for target in panel["targets"]:
            assert isinstance(target["expr"], str) and target["expr"].strip(), panel["title"]


def test_everything_queries_the_datasource_variable(board: dict[str, Any]) -> None:
    for panel in panels(board):
        assert panel.get("datasource") == DATASOURCE, panel["title"]
        for target in panel.get("targets", []):
            assert target.get("datasource") == DATASOURCE, f"{panel['title']} {target['refId']}"
    assert variable(board, "model")["datasource"] == DATASOURCE


def test_templating_has_the_datasource_and_model_variables(board: dict[str, Any]) -> None:
    datasource = variable(board, "datasource")
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    model = variable(board, "model")
    assert model["type"] == "query" and variable_query(model) == MODEL_QUERY
    assert model["multi"] and model["includeAll"]


def test_no_hard_coded_instance_job_or_datasource_uid(board: dict[str, Any]) -> None:
    for target in targets(board):
        assert not re.search(r"\b(instance|job)\s*(=|!=|=~|!~)", target["expr"]), target["expr"]
    text = json.dumps(board)
    uids = set(re.findall(r'"uid":\s*"([^"]*)"', text)) - {board["uid"], "${datasource}", "-- Grafana --"}
    assert not uids, f"hard-coded uids: {uids}"


def test_rates_use_the_rate_interval(board: dict[str, Any]) -> None:
    for target in targets(board):
        for window in re.findall(r"\[([^\]]*)\]", target["expr"]):
            assert window in ("$__rate_interval", "$__range"), target["expr"]
        for window in re.findall(r"\b(?:rate|irate)\s*\([^\[]*\[([^\]]*)\]", target["expr"]):
            assert window == "$__rate_interval", target["expr"]


def test_queries_filter_by_model(board: dict[str, Any]) -> None:
    for target in targets(board):
        expr = target["expr"]
        for name in metric_names(expr):
            label = model_label(name)
            selectors = re.findall(rf"(?<![\w:]){re.escape(name)}(?![\w:])\s*(\{{[^}}]*\}})?", expr)
            assert label is None or all(f'{label}=~"$model"' in s for s in selectors), f"{name} in {expr}"


def test_loads_as_a_grafana_dashboard_model(board: dict[str, Any]) -> None:
    """Grafana's own SDK (grafana-foundation-sdk) decodes it, typing panels and Prometheus queries, and round-trips."""
    # Imported here: the helpers above (dashboard_metrics) work without the SDK.
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import dashboard as grafana
    from grafana_foundation_sdk.models import prometheus

    plugins.register_default_plugins()
    model = grafana.Dashboard.from_json(board)
    assert model.uid == board["uid"] and model.title == board["title"]
    kinds = {v.name: v.type_val for v in model.templating.list_val or []}
    assert kinds["datasource"] == "datasource" and kinds["model"] == "query"
    flat = [p for panel in model.panels or [] for p in [panel, *(getattr(panel, "panels", None) or [])]]
    for panel in flat:
        if isinstance(panel, grafana.RowPanel):
            continue
        assert plugins.cogruntime.panelcfg_config(panel.type_val) is not None, f"unknown panel type {panel.type_val}"
        assert all(isinstance(target, prometheus.Dataquery) for target in panel.targets or []), panel.title
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    assert [(p["id"], p["type"], p["title"], p["gridPos"]) for p in panels(again)] == [
        (p["id"], p["type"], p["title"], p["gridPos"]) for p in panels(board)
    ]
    assert [(t["refId"], t["expr"]) for t in targets(again)] == [(t["refId"], t["expr"]) for t in targets(board)]
