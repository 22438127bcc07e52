"""The chart's monitoring against a real Prometheus: under load, every PromQL expression of the Grafana
dashboard and of the KEDA ScaledObjects returns data, and the rejection counter counts the 503s.

Debian's prometheus scrapes two `python -m predictors` stacks every second: one under steady load
(V1 requests to both models, streamed OpenAI chat, a few invalid requests), one with --max_queue 2
that only gets bursts (503s). Then the chart is rendered with monitoring and KEDA autoscaling on, and
each query is run as Grafana or KEDA would run it.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.chart.conftest import of_kind, render
from tests.monitoring.conftest import SCRAPE_INTERVAL_S, Prometheus, QueryError, metric_value

pytestmark = [pytest.mark.system, pytest.mark.slow]  # ~1 min: two stacks, 25 s of load

LOAD_SECONDS = 25  # every rate(...[1m]) window then holds many scrapes of the load
MODEL_NAMES = ("extractor", "chatbot")
STEADY_CLIENTS = {"extractor": 12, "chatbot": 12, "stream": 6}  # with the two invalid senders: 32
BURST_SIZE = 16  # per model, all at once, against room for 2
BURST_EVERY_S = 4
REJECTED = "simplechat_rejections_total"
CHATBOT_ONLY = (  # streaming metrics: the extractor has none
    "simplechat_time_to_first_token_seconds",
    "simplechat_generated_tokens_total",
    "simplechat_stream_sequences_running",
)

TEXTS = (
    "I am taking Linear Algebra and Organic Chemistry this term.",
    "Last semester my roommate and I both signed up for Introduction to Artificial Intelligence.",
    "The weekly problem sets in Data Structures really helped.",
    "Is Microeconomics harder than Calculus II?",
)
MESSAGES = ("hi", "how are you?", "what are you studying?", "you sound like yoda")
INVALID = {"extractor": {"instances": [{"text": ""}]}, "chatbot": {"instances": [{"message": ""}]}}

# Grafana's built-in variables, as a dashboard over the last few minutes has them.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
LABEL_VALUES = re.compile(r"\s*label_values\(\s*(?:(.*?)\s*,\s*)?(\w+)\s*\)\s*", re.DOTALL)


@dataclass
class Traffic:
    """What the clients saw: (client, status) counts, and the overloaded stack's queue_full
    rejection counter per model before and after the bursts."""

    seen: Counter = field(default_factory=Counter)
    rejected_before: dict[str, float] = field(default_factory=dict)
    rejected_after: dict[str, float] = field(default_factory=dict)


def v1(base: str, model: str) -> str:
    return f"{base}/v1/models/{model}:predict"


def extractor_body(rng: random.Random, count: int | None = None) -> dict:
    return {"instances": [rng.choice(TEXTS) for _ in range(count or rng.randint(1, 8))]}


def chatbot_body(rng: random.Random) -> dict:
    return {"instances": [{"message": rng.choice(MESSAGES)}]}


async def drive(stack: str, overloaded: str, seconds: float) -> Counter:
    """Steady clients on `stack` and bursts on `overloaded` for `seconds`; (client, status) counts."""
    seen: Counter = Counter()
    rng = random.Random(7)
    deadline = time.monotonic() + seconds

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=None)) as client:

        async def post(key: str, url: str, body: dict) -> None:
            try:
                seen[key, (await client.post(url, json=body)).status_code] += 1
            except httpx.TransportError as exc:
                seen[key, type(exc).__name__] += 1

        async def steady(model: str) -> None:
            body = extractor_body if model == "extractor" else chatbot_body
            while time.monotonic() < deadline:
                await post(model, v1(stack, model), body(rng))

        async def stream() -> None:
            while time.monotonic() < deadline:
                body = {"model": "chatbot", "messages": [{"role": "user", "content": rng.choice(MESSAGES)}]}
                request = {**body, "stream": True, "max_tokens": 40}
                try:
                    async with client.stream("POST", f"{stack}/openai/v1/chat/completions", json=request) as response:
                        async for _ in response.aiter_lines():  # the frames arrive one token at a time
                            pass
                    seen["stream", response.status_code] += 1
                except httpx.TransportError as exc:
                    seen["stream", type(exc).__name__] += 1

        async def invalid() -> None:
            while time.monotonic() < deadline:
                for model in MODEL_NAMES:
                    await post(f"invalid {model}", v1(stack, model), INVALID[model])
                await asyncio.sleep(1)

        async def bursts() -> None:
            heavy = {
                "extractor": lambda: extractor_body(rng, 32),
                "chatbot": lambda: {"instances": [{"message": "you sound like yoda", "max_new_tokens": 100}]},
            }
            while time.monotonic() < deadline - BURST_EVERY_S / 2:
                await asyncio.gather(
                    *(
                        post(f"burst {model}", v1(overloaded, model), heavy[model]())
                        for model in MODEL_NAMES
                        for _ in range(BURST_SIZE)
                    )
                )
                await asyncio.sleep(BURST_EVERY_S)

        clients = [steady(m) for m in MODEL_NAMES for _ in range(STEADY_CLIENTS[m])]
        clients += [stream() for _ in range(STEADY_CLIENTS["stream"])]
        await asyncio.gather(*clients, invalid(), bursts())
    return seen


def queue_full(url: str, model: str) -> float:
    return metric_value(url, REJECTED, model=model, reason="queue_full")


@pytest.fixture(scope="module")
def traffic(helm: str, prometheus: Prometheus, stack: str, overloaded: str) -> Traffic:
    """The load, once for the module. helm comes first: fetching it must not eat the rate windows."""
    traffic = Traffic()
    traffic.rejected_before = {m: queue_full(overloaded, m) for m in MODEL_NAMES}
    traffic.seen = asyncio.run(drive(stack, overloaded, LOAD_SECONDS))
    traffic.rejected_after = {m: queue_full(overloaded, m) for m in MODEL_NAMES}
    time.sleep(3 * SCRAPE_INTERVAL_S)  # Prometheus scrapes the final counts
    print(dict(traffic.seen))
    return traffic


def test_clients_got_answers_200_400_and_503_only_where_expected(traffic):
    statuses: dict[str, set] = {}
    for (client, status), _ in traffic.seen.items():
        statuses.setdefault(client, set()).add(status)
    assert statuses == {
        "extractor": {200},
        "chatbot": {200},
        "stream": {200},
        "invalid extractor": {400},
        "invalid chatbot": {400},
        "burst extractor": {200, 503},
        "burst chatbot": {200, 503},
    }, dict(traffic.seen)


def test_under_overload_the_rejection_counter_grows_by_the_503s_clients_saw(traffic, prometheus, overloaded):
    for model in MODEL_NAMES:
        refused = traffic.seen[f"burst {model}", 503]
        assert refused > 0
        assert traffic.rejected_after[model] - traffic.rejected_before[model] == refused, model
    # the scrape carries the same count: Prometheus' latest sample is the predictor's own number
    scraped = prometheus.query(f'sum by (model) ({REJECTED}{{pod="simplechat-overloaded",reason="queue_full"}})')
    assert {s["metric"]["model"]: float(s["value"][1]) for s in scraped} == traffic.rejected_after


# --- the chart's queries ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def chart(helm: str) -> list[dict]:
    return render(helm, "--set", "monitoring.enabled=true", "--set", "autoscaling.mode=keda")


def dashboards(objects: list[dict]) -> Iterator[tuple[str, dict]]:
    """(ConfigMap/key, dashboard) for each Grafana dashboard JSON the chart renders into a ConfigMap."""
    for name, config_map in of_kind(objects, "ConfigMap").items():
        for key, value in (config_map.get("data") or {}).items():
            if key.endswith(".json"):
                yield f"{name}/{key}", json.loads(value)


def panel_queries(node: object, title: str = "") -> Iterator[tuple[str, str]]:
    """(panel title, expr) of every target, panels nested in rows included."""
    if isinstance(node, list):
        for item in node:
            yield from panel_queries(item, title)
    elif isinstance(node, dict):
        title = node.get("title", title)
        for target in node.get("targets") or []:
            if target.get("expr"):
                yield title, target["expr"]
        for key, value in node.items():
            if key != "targets":
                yield from panel_queries(value, title)


def interpolate(text: str, values: dict[str, str]) -> str:
    """Grafana's $var, ${var}, ${var:format} and [[var]] replaced; an unknown one is left for
    Prometheus to refuse."""
    return VARIABLE.sub(lambda m: values.get(next(g for g in m.groups() if g), m[0]), text)


def variable_values(dashboard: dict, prometheus: Prometheus) -> tuple[dict[str, str], list[str]]:
    """Each template variable's value as a fresh dashboard would have it (all its options when it
    offers All or several, else the first), and the variables that find no value."""
    values, problems = dict(GRAFANA_BUILTINS), []
    for variable in (dashboard.get("templating") or {}).get("list", []):
        name, kind, query = variable["name"], variable.get("type"), variable.get("query", "")
        if isinstance(query, dict):
            query = query.get("query", "")
        query = interpolate(query, values)
        if kind == "query":
            found = LABEL_VALUES.fullmatch(query)
            if not found:
                problems.append(f"variable {name}: not label_values(...): {query!r}")
                continue
            options = prometheus.label_values(found[2], found[1])
        elif kind in ("custom", "interval"):
            options = [o.split(" : ")[-1].strip() for o in query.split(",") if o.strip()]
        elif kind in ("constant", "textbox"):
            options = [query]
        else:  # datasource, adhoc: nothing of theirs appears in an expression
            continue
        if not options:
            problems.append(f"variable {name}: {query!r} has no values")
        elif variable.get("includeAll") and variable.get("allValue"):
            values[name] = variable["allValue"]
        elif variable.get("includeAll") or variable.get("multi"):
            values[name] = "(" + "|".join(options) + ")"
        else:
            values[name] = options[0]
    return values, problems


def returns_data(prometheus: Prometheus, expr: str) -> str | None:
    """None when `expr` returns a finite number, for each model when its result is per model (the
    chatbot only for a streaming metric); else what is wrong."""
    try:
        result = prometheus.query(expr)
    except QueryError as exc:
        return str(exc)
    if not result:
        return "empty result"
    finite = [s for s in result if not math.isnan(float(s["value"][1]))]
    if not finite:
        return f"only NaN ({len(result)} series)"
    models = {s["metric"]["model"] for s in finite if "model" in s["metric"]}
    expected = {"chatbot"} if any(name in expr for name in CHATBOT_ONLY) else set(MODEL_NAMES)
    if any("model" in s["metric"] for s in result) and models != expected:
        return f"numbers for {sorted(models)}, expected {sorted(expected)}"
    return None


def test_every_dashboard_query_returns_data(traffic, chart, prometheus):
    found = list(dashboards(chart))
    assert found, "no dashboard JSON in a rendered ConfigMap (monitoring.enabled=true)"
    failures, count = [], 0
    for source, dashboard in found:
        values, problems = variable_values(dashboard, prometheus)
        failures += [f"{source}: {p}" for p in problems]
        for title, expr in panel_queries(dashboard.get("panels", [])):
            count += 1
            query = interpolate(expr, values)
            if problem := returns_data(prometheus, query):
                failures.append(f"{source} panel {title!r}: {problem}: {query}")
    assert count, "the dashboard has no queries"
    assert not failures, f"{len(failures)} of {count} queries failed:\n" + "\n".join(failures)


def test_every_scaledobject_query_returns_one_number(traffic, chart, prometheus):
    """KEDA takes exactly one finite sample: an empty, several-series or NaN result is an error
    (or silently 0 with ignoreNullValues), so the autoscaler would be blind."""
    triggers = [
        (name, trigger["metadata"]["query"])
        for name, scaled in of_kind(chart, "ScaledObject").items()
        for trigger in scaled["spec"]["triggers"]
        if trigger["type"] == "prometheus"
    ]
    assert triggers, "no ScaledObject with a prometheus trigger (autoscaling.mode=keda)"
    failures = []
    for name, query in triggers:
        try:
            result = prometheus.query(query)
        except QueryError as exc:
            failures.append(f"{name}: {exc}: {query}")
            continue
        values = [float(s["value"][1]) for s in result]
        if len(values) != 1 or not math.isfinite(values[0]):
            failures.append(f"{name}: {len(values)} series {values[:4]}, not one finite number: {query}")
    assert not failures, "\n".join(failures)
