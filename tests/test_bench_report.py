"""benchmarks/report.py: the RESULTS tables and the target verdicts, from a run's raw figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

REPORT = Path(__file__).resolve().parents[1] / "benchmarks" / "report.py"


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(seconds: float, peak_mb: float = 300.0, **extra: Any) -> dict[str, Any]:
    return {"seconds": seconds, "peak_rss_mb": peak_mb, **extra}


def _size(label: str, samples: int, server_peak_mb: float) -> dict[str, Any]:
    return {
        "label": label,
        "participants": samples // 10_108,
        "clusters": 24,
        "samples": samples,
        "curl": _timed(1.0, 130),
        "curl_gzip": _timed(1.1, 130),
        "httpx_raw": _timed(1.1),
        "fetch": _timed(1.4),
        "fetch_parse": _timed(1.5),
        "fetch_parse_gzip": _timed(2.0),
        "export_server": _timed(20.0, server_peak_mb, exit=0),
        "load": _timed(2.0, changelog_seconds=0.1),
        "detect": _timed(0.2),
        "detect_samples": _timed(2.0),
        "score": _timed(0.1),
        "rank": _timed(0.1),
        "timeline": _timed(0.1),
        "audit": _timed(1.0),
        "archive": _timed(5.0, 1500),
        "export": _timed(12.0, 2000, exit=0),
        "detect_score_rank": _timed(0.1),
        "pandas": _timed(1.0, 5000, same_ranking=True),  # a baseline: its memory is not ours
    }


def _results(server_peak_mb: float) -> dict[str, Any]:
    return {
        "machine": {"cores": "2"},
        "sizes": [_size("1e7", 10_005_520, 900), _size("1e8", 100_007_152, server_peak_mb)],
        "seconds": 600.0,
    }


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_targets_and_rows_from_the_figures() -> None:
    text = _report().render(_results(server_peak_mb=3200))
    assert (
        _line(text, "| 1e7: fetch + parse <= 1.5x curl")
        == "| 1e7: fetch + parse <= 1.5x curl | 1.50x | yes |"
    )
    assert _line(text, "| 1e7: detect + score + rank") == (
        "| 1e7: detect + score + rank >= 10x pandas | 10.0x (5.0x with the change log's build) "
        "| yes, on the change log |"
    )
    server_rows = [x for x in text.splitlines() if x.startswith("| `ocq-batch export --source http://")]
    assert [x.split(" | ")[1:4] for x in server_rows] == [
        ["20.00", "500 k/s", "900"],
        ["20.00", "5.00 M/s", "3200"],
    ]
    # the highest peak among ocq-batch's own processes (the server export here), not pandas'
    assert _line(text, "| 1e8 end to end under 4 GiB") == "| 1e8 end to end under 4 GiB | 3.12 GiB | yes |"
    assert "20.0 s as one export from the server" in text


def test_an_export_from_the_server_over_4_gib_misses_the_target() -> None:
    text = _report().render(_results(server_peak_mb=4200))
    assert _line(text, "| 1e8 end to end under 4 GiB") == "| 1e8 end to end under 4 GiB | 4.10 GiB | no |"
