"""Render the benchmark results as ``benchmarks/RESULTS.md`` (tables, ratios, targets, notes.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GiB = 1024.0


def _fmt_rate(samples: float, seconds: float) -> str:
    if not seconds:
        return "-"
    rate = samples / seconds
    return f"{rate / 1e6:.2f} M/s" if rate >= 1e6 else f"{rate / 1e3:.0f} k/s"


# what the baselines and the parser comparison hold in memory is not ocq-batch's peak
BASELINES = frozenset({"curl", "curl_gzip", "httpx_raw", "pandas", "pandas_input", "parsers"})


def _row(name: str, r: dict[str, Any] | None, samples: int, note: str = "") -> str:
    if not r:
        return f"| {name} | - | - | - | not run |"
    if "error" in r or "skipped" in r:
        return f"| {name} | - | - | - | {r.get('error') or r.get('skipped')} |"
    s = r["seconds"]
    return f"| {name} | {s:.2f} | {_fmt_rate(samples, s)} | {r['peak_rss_mb']:.0f} | {note} |"


def _sum(size: dict[str, Any], names: tuple[str, ...]) -> float | None:
    parts = [size.get(n) for n in names]
    if any(not p or "seconds" not in p or "error" in p for p in parts):
        return None
    return sum(float(p["seconds"]) for p in parts if p)


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# ocq-batch benchmarks",
        "",
        "Reproduce with `python3 benchmarks/run.py` (all sizes) or `python3 benchmarks/run.py --quick`.",
        "Each baseline is measured in the same run as the figures compared with it.",
        "Each stage runs in its own process: *peak RSS* is that process' maximum resident memory",
        "(Python, libraries and DuckDB included). Timings are the best of the repetitions"
        + (" (one repetition: --quick)." if results.get("quick") else "."),
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in m.items()),
        "",
        "The machine is shared: other jobs ran during the measurements (see the load average), so",
        "absolute figures move by 10-30 % from run to run, and more from day to day: the speed probe",
        "took 0.8 s on the fastest days and 1.6 s on the slowest. Ratios measured in the same run move less.",
        "",
    ]
    demo = results.get("demo") or {}
    if demo:
        ok = [r for r in demo["export"] if "error" not in r]
        wall = min((r["seconds"] for r in ok), default=None)
        curl = demo["curl"].get("seconds")
        lines += [
            "## Demo export from a local Prometheus",
            "",
            "`ocq-batch export --source http://127.0.0.1:<port>` of the bundled demo event (raw series plus",
            "the backfilled live rules, as the tests serve it), whole command, in a fresh process, with",
            "the package's bytecode compiled first (as `pip install` leaves it).",
            "",
            "| run | wall s | peak RSS MB | exit |",
            "|---|---|---|---|",
            *(
                f"| {i + 1} | {r['seconds']:.2f} | {r['peak_rss_mb']:.0f} | {r.get('error') or r['exit']} |"
                for i, r in enumerate(demo["export"])
            ),
            "",
            f"Best: **{wall:.2f} s** (target: under 3 s). curl downloads the same responses in {curl:.2f} s."
            if wall and curl
            else "No successful export.",
            "",
        ]
        phases = demo.get("phases") or {}
        if phases and "error" not in phases:
            lines += [
                "Where the time goes (the same steps in one process; samples.parquet is written by its",
                "thread from the end of the load, as in the export):",
                "",
                "| phase | seconds |",
                "|---|---|",
            ]
            for key, value in phases.items():
                if key not in ("seconds", "peak_rss_mb"):
                    shown = f"{value:.2f}" if isinstance(value, float) else str(value)
                    lines.append(f"| {key} | {shown} |")
            lines.append("")
    lines += ["## Stages per size", ""]
    summary = []
    for size in results["sizes"]:
        n = int(size.get("samples") or 0)
        lines += [
            f"### {size['label']} samples ({n:,} stored; {size['participants']} participants, "
            f"{size['clusters']} clusters, 3 h at 30 s)",
            "",
            "| stage | seconds | samples/s | peak RSS MB | note |",
            "|---|---|---|---|---|",
        ]
        curl = size.get("curl", {}).get("seconds")
        fp = size.get("fetch_parse", {}).get("seconds")
        if "curl" in size:
            lines.append(_row("baseline: curl to /dev/null", size["curl"], n, "the fetch floor"))
            if "curl_gzip" in size:
                lines.append(
                    _row("curl --compressed (gzip, as asked of a remote server)", size["curl_gzip"], n, "")
                )
            if "httpx_raw" in size:
                raw = size["httpx_raw"]
                note = _ratio(raw.get("seconds"), curl) + " curl: the floor of a fetch through httpx"
                lines.append(_row("httpx alone (bodies read, nothing checked)", raw, n, note))
            lines.append(
                _row(
                    "fetch (HTTP + body checks)",
                    size.get("fetch"),
                    n,
                    _ratio(size["fetch"].get("seconds"), curl) + " curl",
                )
            )
            lines.append(
                _row("fetch + parse", size.get("fetch_parse"), n, _ratio(fp, curl) + " curl (target <= 1.5x)")
            )
            if "fetch_parse_gzip" in size:
                gz = size["fetch_parse_gzip"]
                note = (
                    _ratio(gz.get("seconds"), size.get("curl_gzip", {}).get("seconds")) + " curl --compressed"
                )
                lines.append(_row("fetch + parse, --compression gzip", gz, n, note))
        else:
            lines.append("| fetch | - | - | - | not measured in this run: loaded from the replay folder |")
        if "export_server" in size:
            what = "fetch to archive and report, as the organiser runs it: the end to end"
            name = "`ocq-batch export --source http://127.0.0.1:<port>`, one process"
            lines.append(_row(name, size["export_server"], n, what))
        load = size.get("load") or {}
        plain = size.get("load_plain", {}).get("seconds")
        load_notes = []
        if "changelog_seconds" in load:
            load_notes.append(f"change log: {load['changelog_seconds']:.2f} s of it")
        if plain:
            load_notes.append(f"reference loader: {_ratio(plain, load.get('seconds'))} slower")
        lines.append(_row("load (parse + DuckDB append + change log)", load, n, "; ".join(load_notes)))
        detect = size.get("detect", {}).get("seconds")
        ref = size.get("detect_samples", {}).get("seconds")
        lines.append(_row("detect (01-04, from the change log)", size.get("detect"), n))
        if "detect_samples" in size:
            note = f"{_ratio(ref, detect)} the change log's time"
            lines.append(_row("detect from every sample (sql/samples/)", size["detect_samples"], n, note))
        for name in ("score", "rank", "timeline", "audit", "archive"):
            lines.append(_row(name, size.get(name), n))
        if "export" in size:
            what = "the stages above as a user runs them: load to archive and report"
            name = "`ocq-batch export --source <replay folder>`, one process"
            lines.append(_row(name, size["export"], n, what))
        # the target compares steps on an open store with the baseline on a loaded frame
        dsr = size.get("detect_score_rank", {}).get("seconds") or _sum(size, ("detect", "score", "rank"))
        if "detect_score_rank" in size:
            what = "params + steps 01-06 on an open store, as the baseline is timed"
            lines.append(_row("detect + score + rank, one process", size["detect_score_rank"], n, what))
        pandas = size.get("pandas")
        if pandas and "seconds" in pandas:
            same = "same ranking" if pandas.get("same_ranking") else "RANKING DIFFERS"
            lines.append(_row("baseline: pandas detect + score + rank", pandas, n, same))
            speedup = pandas["seconds"] / dsr if dsr else None
            lines += [
                "",
                f"detect + score + rank: {dsr:.2f} s, **{speedup:.1f}x** the pandas baseline's throughput.",
            ]
            log_s = load.get("changelog_seconds")
            if dsr and log_s:
                # the baseline finds transitions in every sample; the steps read the change log,
                # which the load derived from the same samples: count it too
                lines.append(
                    f"Counting the change log the load built from the same samples ({log_s:.2f} s), "
                    f"{dsr + log_s:.2f} s: {pandas['seconds'] / (dsr + log_s):.1f}x."
                )
        total = _sum(size, ("load", "detect", "score", "rank", "timeline", "archive"))
        peak = max(
            (
                float(v.get("peak_rss_mb", 0))
                for k, v in size.items()
                if isinstance(v, dict) and k not in BASELINES
            ),
            default=0,
        )
        export = size.get("export") or {}
        server = size.get("export_server") or {}
        whole = f"End to end: {total or 0:.1f} s over the stages from load to archive"
        if "seconds" in export:
            whole += f", {export['seconds']:.1f} s as one export of the replay folder"
        if "seconds" in server:
            whole += f", {server['seconds']:.1f} s as one export from the server"
        whole += f"; highest peak RSS of ocq-batch (stages and exports) {peak / GiB:.2f} GiB."
        lines += ["", whole, ""]
        parsers = size.get("parsers")
        if parsers and "samples" in parsers:
            lines += [
                "Parsers on the same bodies (decompressed, in memory):",
                "",
                "| parser | seconds | samples/s |",
                "|---|---|---|",
            ]
            for key, value in parsers.items():
                if key not in ("samples", "bytes", "seconds", "peak_rss_mb"):
                    lines.append(f"| {key} | {value:.2f} | {_fmt_rate(parsers['samples'], value)} |")
            lines.append("")
        summary.append((size["label"], n, fp, curl, dsr, pandas, peak, load.get("changelog_seconds")))
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    if demo:
        ok = [r["seconds"] for r in demo["export"] if "error" not in r]
        w = min(ok) if ok else None
        lines.append(f"| demo export under 3 s | {w or 0:.2f} s | {'yes' if w and w < 3 else 'no'} |")
    for label, _n, fp, curl, dsr, pandas, peak, log_s in summary:
        if fp and curl:
            lines.append(
                f"| {label}: fetch + parse <= 1.5x curl | {fp / curl:.2f}x "
                f"| {'yes' if fp / curl <= 1.5 else 'no'} |"
            )
        if pandas and "seconds" in pandas and dsr and label == "1e7":
            x = pandas["seconds"] / dsr
            y = pandas["seconds"] / (dsr + log_s) if log_s else None
            with_log = f" ({y:.1f}x with the change log's build)" if y else ""
            lines.append(
                f"| 1e7: detect + score + rank >= 10x pandas | {x:.1f}x{with_log} "
                f"| {'yes, on the change log' if x >= 10 else 'no'} |"
            )
        if label == "1e8":
            lines.append(
                f"| 1e8 end to end under 4 GiB | {peak / GiB:.2f} GiB | {'yes' if peak < 4 * GiB else 'no'} |"
            )
    lines += ["", f"Whole run: {results.get('seconds', 0):.0f} s.", ""]
    if results.get("merged"):
        lines += [f"Sizes merged from earlier runs of the same script: {'; '.join(results['merged'])}.", ""]
    notes = HERE / "notes.md"
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)
