"""Turn the measurements into the table, the ratios, the issue's targets and the plot."""

from __future__ import annotations

from pathlib import Path

RAW_REFERENCE_BATCH = {"extractor": 32, "chatbot": 8}  # what "vs raw" divides by
BUSY_FRACTION = 0.25  # CPU busier than this before the run: another job shares the cores
UNITS = {"extractor": "sentences/s", "chatbot": "requests/s"}


def raw_batch(results: dict, model: str, batch: int) -> dict | None:
    raw = results["raw"].get(model, {})
    return next((b for b in raw.get("batches", []) if b["batch"] == batch), None)


def row(results: dict, model: str, mode: str, concurrency: int) -> dict | None:
    for server in results["servers"]:
        if server["model"] == model and server["mode"] == mode:
            return next((r for r in server["rows"] if r["concurrency"] == concurrency), None)
    return None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def ratios(results: dict) -> dict:
    """Throughput vs raw, batched vs unbatched, and p50 at c=1 vs one raw forward."""
    vs_raw, batched, single, paired = [], [], [], []
    for server in results["servers"]:
        model, mode = server["model"], server["mode"]
        reference = raw_batch(results, model, RAW_REFERENCE_BATCH[model])
        one = raw_batch(results, model, 1)
        for r in server["rows"]:
            vs_raw.append(
                {
                    "model": model,
                    "mode": mode,
                    "concurrency": r["concurrency"],
                    "ratio": _ratio(r["req_s"], reference and reference["items_per_s"]),
                }
            )
            if r["concurrency"] == 1:
                raw_ms = one and one["p50_ms"]
                single.append(
                    {
                        "model": model,
                        "mode": mode,
                        "p50_ms": r["p50_ms"],
                        "raw_ms": raw_ms,
                        "ratio": _ratio(r["p50_ms"], raw_ms),
                    }
                )
                pair = server.get("paired_c1", {})
                if pair.get("status") == "ok":
                    paired.append(
                        {
                            "model": model,
                            "mode": mode,
                            "p50_ms": pair["server_p50_ms"],
                            "raw_ms": pair["raw_p50_ms"],
                            "ratio": pair["ratio"],
                            "pairs": pair["pairs"],
                        }
                    )
            if mode == "batched":
                off = row(results, model, "unbatched", r["concurrency"])
                batched.append(
                    {"model": model, "concurrency": r["concurrency"], "ratio": _ratio(r["req_s"], off and off["req_s"])}
                )
    return {
        "vs_raw": vs_raw,
        "batched_vs_unbatched": batched,
        "p50_c1_vs_raw_single": single,
        "p50_lone_paired": paired,
        **stream_ratios(results),
    }


def stream_ratios(results: dict) -> dict:
    """Streams: time to first token at c vs a lone stream's (c=1), and streamed tokens/s vs the
    non-streamed batched path's at the same concurrency."""
    lone = row(results, "chatbot", "stream", 1)
    ttft, tokens = [], []
    for server in results["servers"]:
        if server["mode"] != "stream":
            continue
        for r in server["rows"]:
            ttft.append(
                {
                    "model": server["model"],
                    "concurrency": r["concurrency"],
                    "ratio": _ratio(r["ttft_p50_ms"], lone and lone["ttft_p50_ms"]),
                }
            )
            whole = row(results, server["model"], "batched", r["concurrency"])
            tokens.append(
                {
                    "model": server["model"],
                    "concurrency": r["concurrency"],
                    "ratio": _ratio(r["tokens_s"], whole and whole.get("tokens_s")),
                }
            )
    return {"stream_ttft_vs_lone": ttft, "stream_tokens_vs_batched": tokens}


def _startup(results: dict, model: str, mode: str) -> float | None:
    """Seconds from start to ready of that server, as measured (None when it was not run)."""
    return next((s.get("startup_s") for s in results["servers"] if s["model"] == model and s["mode"] == mode), None)


def _find(entries: list[dict], **match) -> float | None:
    return next((e["ratio"] for e in entries if all(e.get(k) == v for k, v in match.items())), None)


def targets(results: dict) -> list[dict]:
    """The issue's targets, each PASS, MISS or n/a (not measured); reported, never asserted."""
    r = results["ratios"]
    checks = [
        (
            "extractor batched c=32 >= 0.60 x raw batch-32",
            _find(r["vs_raw"], model="extractor", mode="batched", concurrency=32),
            0.60,
            ">=",
        ),
        (
            "extractor batched >= 1.8 x unbatched at c=32",
            _find(r["batched_vs_unbatched"], model="extractor", concurrency=32),
            1.8,
            ">=",
        ),
        (
            "extractor batched p50 at c=1 within 15% of raw single",
            _find(r["p50_c1_vs_raw_single"], model="extractor", mode="batched"),
            1.15,
            "<=",
        ),
        (
            "  the same, paired: lone requests after idle gaps",
            _find(r.get("p50_lone_paired", []), model="extractor", mode="batched"),
            1.15,
            "<=",
        ),
        (
            "extractor onnx c=32 >= 1.5 x raw torch batch-32",
            _find(r["vs_raw"], model="extractor", mode="onnx", concurrency=32),
            1.5,
            ">=",
        ),
        (
            "extractor onnx start-up <= 0.5 x the torch server's (batched)",
            _ratio(_startup(results, "extractor", "onnx"), _startup(results, "extractor", "batched")),
            0.5,
            "<=",
        ),
        (
            "chatbot batched >= 2 x unbatched at c=8",
            _find(r["batched_vs_unbatched"], model="chatbot", concurrency=8),
            2.0,
            ">=",
        ),
        (
            "chatbot stream: time to first token p50 at c=8 <= 2 x a lone stream's",
            _find(r.get("stream_ttft_vs_lone", []), model="chatbot", concurrency=8),
            2.0,
            "<=",
        ),
        (
            "chatbot stream: tokens/s at c=32 >= 0.9 x the non-streamed batched path",
            _find(r.get("stream_tokens_vs_batched", []), model="chatbot", concurrency=32),
            0.9,
            ">=",
        ),
    ]
    result = []
    for name, value, bound, op in checks:
        met = value is not None and (value >= bound if op == ">=" else value <= bound)
        result.append(
            {
                "target": name,
                "value": value,
                "bound": bound,
                "status": "n/a" if value is None else ("PASS" if met else "MISS"),
            }
        )
    return result


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(headers: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*line) for line in [headers, *lines])


def text(results: dict) -> str:
    """Everything the run prints at the end, as one string."""
    m = results["machine"]
    parts = [
        *_busy_warning(m),
        f"machine: {m['cpu']} | {m['cores']} cores | torch {m['torch']} | python {m['python']} | "
        f"CPU busy before the run {m['cpu_busy_before']:.0%}",
        f"timestamp: {results['timestamp']}   wall: {_num(results.get('wall_s'))} s   settings: {results['settings']}",
        "",
        "raw in-process forward:",
    ]
    raw_lines = [
        [model, f"batch {b['batch']}", _num(b["items_per_s"]), _num(b["p50_ms"]), _num(b.get("mean_reply_tokens"))]
        for model, raw in results["raw"].items()
        for b in raw.get("batches", [])
    ]
    parts += [_table(["model", "batch", "items/s", "p50 ms/call", "reply tokens"], raw_lines)]
    parts += [f"{model} raw: {raw['status']}" for model, raw in results["raw"].items() if raw["status"] != "ok"]
    parts += [
        "",
        "servers (1 instance per request):",
        _table(
            ["model", "mode", "conc", "req/s", "p50 ms", "p99 ms", "errors"],
            [
                [
                    s["model"],
                    s["mode"],
                    str(r["concurrency"]),
                    _num(r["req_s"]),
                    _num(r["p50_ms"]),
                    _num(r["p99_ms"]),
                    str(r["errors"]),
                ]
                for s in results["servers"]
                for r in s["rows"]
            ],
        ),
    ]
    streams = [
        [str(r["concurrency"]), *_stream_cells(r, row(results, s["model"], "batched", r["concurrency"]))]
        for s in results["servers"]
        if s["mode"] == "stream"
        for r in s["rows"]
    ]
    if streams:
        parts += [
            "",
            "chatbot streams (OpenAI route, stream: true) beside the batched V1 path's tokens/s:",
            _table(["conc", "ttft p50 ms", "ttft p99 ms", "tokens/s", "tokens/s/stream", "V1 tokens/s"], streams),
        ]
    parts += [f"{s['model']} {s['mode']}: {s['status']}" for s in results["servers"] if s["status"] != "ok"]
    parts += ["", *_ratio_lines(results["ratios"]), *_startup_lines(results), "", "targets (reported, not asserted):"]
    parts += [f"  {t['status']:<4}  {t['target']}  (measured {_num(t['value'], 2)})" for t in results["targets"]]
    return "\n".join(parts)


def _stream_cells(r: dict, whole: dict | None) -> list[str]:
    return [
        _num(r["ttft_p50_ms"]),
        _num(r["ttft_p99_ms"]),
        _num(r["tokens_s"]),
        _num(r["tokens_s_per_stream"]),
        _num(whole and whole.get("tokens_s")),
    ]


def _busy_warning(machine: dict) -> list[str]:
    if machine["cpu_busy_before"] <= BUSY_FRACTION:
        return []
    return [
        f"WARNING: the CPU was {machine['cpu_busy_before']:.0%} busy before the run: another job shares the "
        "cores, so every number below may be low and noisy"
    ]


def _startup_lines(results: dict) -> list[str]:
    started = [s for s in results["servers"] if s.get("startup_s") is not None]
    return ["start-up, seconds from launch to ready:"] + [
        f"  {s['model']:<9} {s['mode']:<9} {_num(s['startup_s'], 1)}" for s in started
    ]


def _ratio_lines(r: dict) -> list[str]:
    lines = ["throughput vs raw (extractor: raw batch-32 sentences/s; chatbot: raw batch-8 requests/s):"]
    lines += [f"  {e['model']:<9} {e['mode']:<9} c={e['concurrency']:<3} {_num(e['ratio'], 2)}" for e in r["vs_raw"]]
    lines += ["batched / unbatched throughput:"]
    lines += [f"  {e['model']:<9} c={e['concurrency']:<3} {_num(e['ratio'], 2)}" for e in r["batched_vs_unbatched"]]
    lines += ["p50 at c=1 / raw single-forward p50 (closed loop, back to back; raw measured before the servers):"]
    lines += [
        f"  {e['model']:<9} {e['mode']:<9} {_num(e['ratio'], 2)}  ({_num(e['p50_ms'])} ms vs {_num(e['raw_ms'])} ms)"
        for e in r["p50_c1_vs_raw_single"]
    ]
    lines += [
        "lone request / raw forward, paired (alternating with a pause, so both see the same moment of the "
        "machine; the server's threads start each request idle): median of per-pair ratios"
    ]
    lines += [
        f"  {e['model']:<9} {e['mode']:<9} {_num(e['ratio'], 2)}  ({_num(e['p50_ms'])} ms vs "
        f"{_num(e['raw_ms'])} ms, {e['pairs']} pairs)"
        for e in r.get("p50_lone_paired", [])
    ]
    if r.get("stream_ttft_vs_lone"):
        lines += ["stream: time to first token p50 / a lone stream's (c=1):"]
        lines += [f"  c={e['concurrency']:<3} {_num(e['ratio'], 2)}" for e in r["stream_ttft_vs_lone"]]
        lines += ["stream: tokens/s / the non-streamed batched path's tokens/s at the same concurrency:"]
        lines += [f"  c={e['concurrency']:<3} {_num(e['ratio'], 2)}" for e in r["stream_tokens_vs_batched"]]
    return lines


def plot(results: dict, path: Path) -> None:
    """Throughput vs concurrency, one line per mode, one subplot per model, raw forwards as flat lines."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    models = list(results["raw"])
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for server in (s for s in results["servers"] if s["model"] == model and s["rows"]):
            xs = [r["concurrency"] for r in server["rows"]]
            ax.plot(xs, [r["req_s"] for r in server["rows"]], marker="o", label=server["mode"])
        for batch, style in ((RAW_REFERENCE_BATCH[model], "--"), (1, ":")):
            raw = raw_batch(results, model, batch)
            if raw:
                ax.axhline(raw["items_per_s"], color="grey", linestyle=style, label=f"raw batch {batch}")
        ax.set_xscale("log", base=2)
        ticks = sorted({r["concurrency"] for s in results["servers"] if s["model"] == model for r in s["rows"]})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_ylim(bottom=0)
        ax.set_title(model)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(f"requests/s ({UNITS[model]} raw)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(f"simplechat serving modes — {results['machine']['cpu']}, {results['machine']['cores']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
