"""Markdown tables from bench/results/*.json, for docs/PERFORMANCE.md (``python -m bench.tables TAG…``).

One column per results tag (e.g. ``sqlite-1000000`` and ``postgresql-1000000``), one row per
measure, so the doc's figures are copied from the files the runs wrote, not typed by hand.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.report import RESULTS_DIR

SCENARIOS = ("turn", "burst", "acks", "load_100", "load_1000", "floor")


def _load(tag: str, scenario: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{tag}-{scenario}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _get(data: dict[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _ms(summary: dict[str, Any] | None, *quantiles: str) -> str:
    if not summary or not summary.get("count"):
        return "–"
    return " / ".join(f"{summary[q]:.1f}" for q in quantiles)


def _errors(errors: dict[str, Any] | None) -> str:
    if not errors:
        return "–"
    total = sum(v for v in errors.values() if isinstance(v, int))
    return "0" if total == 0 else ", ".join(f"{k} {v}" for k, v in errors.items() if v)


def scenario_rows(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(measure, value) pairs for one scenario's results file."""
    if data is None:
        return []
    m = data["metrics"]
    name = data["scenario"]
    rows: list[tuple[str, str]] = []
    if name == "floor":
        ratios = m["ratio_coachbot_over_floor"]
        return [
            ("floor app: ack p50 / p99", _ms(_get(m, "floor", "ack_ms"), "p50", "p99")),
            (
                "floor app: event → reply posted p50 / p99",
                _ms(_get(m, "floor", "event_to_reply_posted_ms"), "p50", "p99"),
            ),
            (
                "coachbot, instant model: ack p50 / p99",
                _ms(_get(m, "coachbot_instant_model", "ack_ms"), "p50", "p99"),
            ),
            (
                "coachbot, instant model: event → first text p50 / p99",
                _ms(_get(m, "coachbot_instant_model", "event_to_first_text_ms"), "p50", "p99"),
            ),
            (
                "ratio coachbot / floor: reply p50, p99",
                f"{ratios['reply_p50']:.1f}× , {ratios['reply_p99']:.1f}×",
            ),
            ("ratio coachbot / floor: ack p50, p99", f"{ratios['ack_p50']:.1f}× , {ratios['ack_p99']:.1f}×"),
        ]
    app = m.get("app") or {}
    xp = m.get("cross_process") or {}
    rows += [
        ("ack p50 / p99", _ms(m.get("ack_ms"), "p50", "p99")),
        (
            "event received → model request sent (app) p50 / p99",
            _ms(app.get("event_to_model_ms"), "p50", "p99"),
        ),
        (
            "model's last token → final Slack call done (app) p50 / p99",
            _ms(app.get("last_token_to_final_ms"), "p50", "p99"),
        ),
        (
            "first visible text after the model's first token p50 / p99",
            _ms(xp.get("model_first_token_to_first_text_ms"), "p50", "p99"),
        ),
    ]
    if name == "burst":
        rows += [
            ("first text − send − TTFT p50 / p95", _ms(m.get("first_text_beyond_ttft_ms"), "p50", "p95")),
            ("complete p95 − model time p95", f"{m['overhead_beyond_model_time_p95_ms']:.1f}"),
        ]
    if name in ("acks", "load_100", "load_1000"):
        rows.append(("acks over 3 s", str(m.get("acks_over_3s"))))
    if name.startswith("load"):
        rows += [
            (
                "messages sent / replies / replies per s",
                f"{m['sent']} / {m['replies_completed']} / {m['throughput_replies_per_s']}",
            ),
            ("app CPU (share of one core)", f"{m['app_cpu_s']:.1f} s ({m['app_cpu_utilisation']:.0%})"),
            ("app RSS before → after (peak)", _rss(m["app_rss_kib"])),
        ]
    if name == "acks":
        rows += [
            ("messages sent", str(m["sent"])),
            (
                "app CPU in the window (share of one core)",
                f"{m['app_cpu_s']['window']:.1f} s ({m['app_cpu_s']['window_utilisation']:.0%})",
            ),
            ("app RSS before → after", _rss(m["app_rss_kib"])),
        ]
    if name == "burst":
        rows.append(
            (
                "app CPU until the last reply",
                f"{m['cpu_s_by_process']['coachbot']:.1f} s in {m['elapsed_s']:.1f} s",
            )
        )
    rows.append(("errors", _errors(m.get("errors"))))
    return rows


def _rss(rss: dict[str, int]) -> str:
    text = f"{rss['before'] // 1024} → {rss['after'] // 1024} MiB"
    return text + (f" ({rss['peak_since_start'] // 1024} MiB)" if "peak_since_start" in rss else "")


def main(tags: list[str]) -> None:
    for scenario in SCENARIOS:
        columns = [scenario_rows(_load(tag, scenario)) for tag in tags]
        if not any(columns):
            continue
        description = next((d["description"] for t in tags if (d := _load(t, scenario))), "")
        print(f"\n#### {scenario}: {description}\n")
        print("| measure (ms unless noted) | " + " | ".join(tags) + " |")
        print("|---" * (len(tags) + 1) + "|")
        labels = list(dict.fromkeys(label for column in columns for label, _ in column))
        for label in labels:
            cells = [dict(column).get(label, "–") for column in columns]
            print(f"| {label} | " + " | ".join(cells) + " |")


def compare(pairs: list[tuple[str, str]]) -> None:
    """Before/after rows of the turn scenario: ``pairs`` of (before tag, after tag), one per round."""
    measures = (
        ("event received → model request sent (app)", ("app", "event_to_model_ms")),
        (
            "event sent → model request received (cross-process)",
            ("cross_process", "event_sent_to_model_received_ms"),
        ),
        ("ack", ("ack_ms",)),
    )
    print("| round | measure | before p50 / p99 | after p50 / p99 | before ÷ after, p50 / p99 |")
    print("|---|---|---|---|---|")
    for number, (before_tag, after_tag) in enumerate(pairs, start=1):
        before, after = _load(before_tag, "turn"), _load(after_tag, "turn")
        if before is None or after is None:
            continue
        for label, keys in measures:
            b, a = _get(before["metrics"], *keys), _get(after["metrics"], *keys)
            ratios = " / ".join(f"{b[q] / a[q]:.2f}×" for q in ("p50", "p99"))
            print(f"| {number} | {label} | {_ms(b, 'p50', 'p99')} | {_ms(a, 'p50', 'p99')} | {ratios} |")


def targets(tags: list[str]) -> None:
    """Every target checked by the runs (scenario files and large_db_*.json), one column per tag."""
    found: dict[str, dict[str, str]] = {}
    files = {tag: [_load(tag, scenario) for scenario in SCENARIOS] for tag in tags}
    for tag in tags:
        kind = tag.split("-")[0]
        large = RESULTS_DIR / f"large_db_{kind}.json"
        documents = [d for d in files[tag] if d] + ([json.loads(large.read_text())] if large.exists() else [])
        for document in documents:
            for check in document.get("checks") or document["metrics"].get("checks") or []:
                value = check["value"]
                unit = "" if check["unit"] == "ms" else f" {check['unit']}"
                shown = (
                    "–"
                    if value is None
                    else f"{value:.1f}{unit}"
                    if check["unit"] == "ms"
                    else f"{value:g}{unit}"
                )
                label = f"{check['name']} (≤ {check['limit']:g}{' ms' if check['unit'] == 'ms' else unit})"
                found.setdefault(label, {})[tag] = f"{shown} {'✅' if check['result'] == 'PASS' else '❌'}"
    print("| target | " + " | ".join(tags) + " |")
    print("|---" * (len(tags) + 1) + "|")
    for label, cells in found.items():
        print(f"| {label} | " + " | ".join(cells.get(tag, "–") for tag in tags) + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--targets"]:
        targets(sys.argv[2:])
    elif sys.argv[1:2] == ["--compare"]:
        tags = sys.argv[2:]
        compare(list(zip(tags[::2], tags[1::2], strict=True)))
    else:
        main(sys.argv[1:] or ["sqlite-1000000", "postgresql-1000000"])
