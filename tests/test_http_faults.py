"""Fault injection for the HTTP source with ``httpx.MockTransport``.

The happy path also runs against a real Prometheus, in another test module.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import numpy as np
import orjson
import pytest

from ocq_batch.errors import ConfigError, ReplayError, SourceError, WindowError
from ocq_batch.pull.api import RAW, chunk_range, raw_chunks
from ocq_batch.pull.client import PromClient
from ocq_batch.pull.http_options import HttpOptions, redact_url
from ocq_batch.pull.queries import QuerySpec
from ocq_batch.pull.replay import ReplayReader, ReplayWriter
from ocq_batch.pull.server import HttpSource
from ocq_batch.sim.promjson import matrix_body

TOKEN = "sha256~SECRET-TOKEN-123"
BASE = "https://thanos.example.com"
Q = 'sum by (user) (ocq_completion{exercise="hero"})'
T0 = 1_700_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCQ_TOKEN", TOKEN)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}


def answer(request: httpx.Request) -> bytes:
    """A matrix body that echoes the request, so each chunk's body is distinct: a query_range's
    grid, or for an instant query of a range selector (``q[<n>ms]`` at ``time``) a sample every
    30 s of the range (t - range, t]."""
    f = form(request)
    if "step" in f:
        start, end, step = float(f["start"]), float(f["end"]), float(f["step"])
        n = int((end - start) // step) + 1
        return matrix_body([({"query": f["query"]}, [(start + k * step, 1.0) for k in range(n)])])
    selector, _, rest = f["query"].rpartition("[")
    end = float(f["time"])
    start = end - int(rest.rstrip("ms]")) / 1000
    first = math.floor(start / STEP) * STEP + STEP  # the grid's first point after start
    points = [(t, 1.0) for t in np.arange(first, end + 1e-9, STEP)]
    return matrix_body([({"query": selector}, points)])


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=answer(request))


def error_body(kind: str, text: str) -> bytes:
    return orjson.dumps({"status": "error", "errorType": kind, "error": text})


class Script:
    """A fake server answering request n with ``steps[n]`` (the last step repeats); records requests."""

    def __init__(self, *steps: Handler) -> None:
        self.steps = steps
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            n = len(self.requests) - 1
        return self.steps[min(n, len(self.steps) - 1)](request)


def raises(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def status(code: int, content: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(code, content=content, headers=headers)


def client(script: Script, sleeps: list[float] | None = None, **opts: object) -> PromClient:
    options = HttpOptions(base_url=BASE, token_env="OCQ_TOKEN", **opts)  # type: ignore[arg-type]
    no_wait = sleeps.append if sleeps is not None else (lambda s: None)
    return PromClient(options, transport=httpx.MockTransport(script), sleep=no_wait, rng=random.Random(1))


# --- chunk_range -------------------------------------------------------------------------------------


def points(start: float, end: float, step: float) -> list[float]:
    return [start + k * step for k in range(int((end - start) // step) + 1)]


@pytest.mark.parametrize(
    ("start", "end", "step", "max_points"),
    [
        (T0, T0 + 3600, 30, 11000),  # one chunk
        (T0, T0 + 100 * 30, 30, 10),  # several, exact fit of the last
        (T0, T0 + 100 * 30 + 17, 30, 7),  # end off the grid
        (T0, T0 + 7 * 86400, 30, 11000),  # 20161 points: over the limit in one request
        (T0 + 0.5, T0 + 0.5 + 50 * 15, 15, 11),
        (T0, T0, 30, 11000),  # a single point
    ],
)
def test_chunks_cover_the_range_exactly(start: float, end: float, step: float, max_points: int) -> None:
    chunks = chunk_range(start, end, step, max_points)
    union = [t for a, b in chunks for t in points(a, b, step)]
    assert union == points(start, end, step)  # same points, same order, no duplicate
    assert len(set(union)) == len(union)
    assert chunks[0][0] == start and chunks[-1][1] == end
    for (_, b), (a, _) in itertools.pairwise(chunks):
        assert a == b + step  # neither overlap nor hole
    for a, b in chunks:
        assert (a - start) / step == int((a - start) / step)  # aligned on start + k*step
        assert len(points(a, b, step)) <= max_points
        assert (b - a) / step <= 11000  # what Prometheus accepts


def test_a_week_at_30s_needs_two_chunks() -> None:
    assert len(points(T0, T0 + 7 * 86400, 30)) > 11000
    assert chunk_range(T0, T0 + 7 * 86400, 30) == [(T0, T0 + 10999 * 30), (T0 + 11000 * 30, T0 + 7 * 86400)]


def test_chunk_range_refuses_bad_input() -> None:
    with pytest.raises(ConfigError, match="step"):
        chunk_range(T0, T0 + 60, 0)
    with pytest.raises(WindowError, match="swap"):
        chunk_range(T0 + 60, T0, 30)


# --- retries -----------------------------------------------------------------------------------------


def test_503_then_success() -> None:
    script = Script(status(503, error_body("unavailable", "no store")), ok)
    sleeps: list[float] = []
    with client(script, sleeps) as c:
        body = c.query_range(Q, T0, T0 + 300, 30)
    assert body == answer(script.requests[1])
    assert len(script.requests) == 2 and len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


def test_429_retry_after_seconds_is_honoured_and_capped() -> None:
    script = Script(
        status(429, headers={"Retry-After": "7"}), status(429, headers={"Retry-After": "120"}), ok
    )
    sleeps: list[float] = []
    with client(script, sleeps, backoff_max_s=30) as c:
        c.query_range(Q, T0, T0 + 300, 30)
    assert sleeps == [7.0, 30.0]


def test_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    script = Script(status(503, headers={"Retry-After": when}), ok)
    sleeps: list[float] = []
    with client(script, sleeps) as c:
        c.query_range(Q, T0, T0 + 300, 30)
    assert 15 <= sleeps[0] <= 20


def test_timeout_then_success() -> None:
    script = Script(raises(httpx.ReadTimeout("timed out")), ok)
    with client(script) as c:
        assert c.query_range(Q, T0, T0 + 300, 30) == answer(script.requests[1])


def test_connection_reset_mid_body_then_success() -> None:
    reset = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    script = Script(raises(reset), ok)
    with client(script) as c:
        c.query_range(Q, T0, T0 + 300, 30)
    assert len(script.requests) == 2


def test_truncated_json_then_success() -> None:
    script = Script(lambda r: httpx.Response(200, content=answer(r)[:-20]), ok)
    with client(script) as c:
        assert c.query_range(Q, T0, T0 + 300, 30) == answer(script.requests[1])


def test_persistent_truncated_json_gives_up() -> None:
    script = Script(lambda r: httpx.Response(200, content=answer(r)[:-20]))
    with client(script, max_retries=3) as c, pytest.raises(SourceError) as err:
        c.query_range(Q, T0, T0 + 300, 30)
    assert len(script.requests) == 4
    msg = str(err.value)
    assert Q in msg and "4 attempt" in msg and "not valid JSON" in msg


def test_exponential_backoff_with_full_jitter_is_bounded() -> None:
    script = Script(status(502))
    sleeps: list[float] = []
    with (
        client(script, sleeps, max_retries=6, backoff_base_s=1, backoff_max_s=8) as c,
        pytest.raises(SourceError),
    ):
        c.query_range(Q, T0, T0 + 300, 30)
    caps = [1, 2, 4, 8, 8, 8]
    assert len(sleeps) == 6 and all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


def test_total_timeout_bounds_the_retries() -> None:
    now = [0.0]
    script = Script(status(503))

    def sleep(s: float) -> None:
        now[0] += s

    options = HttpOptions(base_url=BASE, token_env="OCQ_TOKEN", max_retries=100, total_timeout_s=10)
    c = PromClient(options, transport=httpx.MockTransport(script), sleep=sleep, clock=lambda: now[0])
    with c, pytest.raises(SourceError, match="10s in total"):
        c.query_range(Q, T0, T0 + 300, 30)
    assert now[0] <= 10 and len(script.requests) < 101


# --- answers the server rejects ------------------------------------------------------------------------


def test_warnings_fail_by_default() -> None:
    script = Script(
        lambda r: httpx.Response(200, content=matrix_body([], warnings=["store 10.0.0.7 unreachable"]))
    )
    with client(script) as c, pytest.raises(SourceError) as err:
        c.query_range(Q, T0, T0 + 300, 30)
    assert Q in str(err.value) and "store 10.0.0.7 unreachable" in str(err.value)
    assert len(script.requests) == 1


def test_warnings_collected_when_partial_allowed() -> None:
    script = Script(lambda r: httpx.Response(200, content=matrix_body([], warnings=["store down"])))
    options = HttpOptions(base_url=BASE, token_env="OCQ_TOKEN", allow_partial=True)
    spec = QuerySpec("completion/hero/*", "completion", "hero", None, Q)
    with HttpSource(options, transport=httpx.MockTransport(script)) as source:
        out = list(source.responses([spec], T0, T0 + 300))
    assert len(out) == 1 and source.warnings == [f"{Q}: store down"]


@pytest.mark.parametrize(
    ("code", "kind", "retried"),
    [(400, "bad_data", False), (422, "execution", False), (503, "timeout", True), (503, "canceled", True),
     (500, "internal", True)],
)  # fmt: skip
def test_status_error_by_error_type(code: int, kind: str, retried: bool) -> None:
    script = Script(status(code, error_body(kind, f"{kind} happened here")))
    with client(script, max_retries=2) as c, pytest.raises(SourceError) as err:
        c.query_range(Q, T0, T0 + 300, 30)
    msg = str(err.value)
    assert Q in msg and kind in msg and f"{kind} happened here" in msg
    if retried:
        assert len(script.requests) == 3 and "3 attempt" in msg
    else:
        assert len(script.requests) == 1
        assert "the server rejected query" in msg and "fix the query in [queries]" in msg


def test_unexpected_result_type() -> None:
    vector = orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    with client(Script(status(200, vector))) as c, pytest.raises(SourceError, match="resultType 'vector'"):
        c.query_range(Q, T0, T0 + 300, 30)


def test_instant_query_accepts_vector_and_scalar() -> None:
    vector = orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    scalar = orjson.dumps({"status": "success", "data": {"resultType": "scalar", "result": [T0, "3"]}})
    script = Script(status(200, vector), status(200, scalar))
    with client(script) as c:
        assert c.query("up", T0) == vector
        assert c.query("1+2", T0) == scalar
    assert form(script.requests[0])["time"] == "1700000000"
    assert script.requests[0].url.path == "/api/v1/query"


# --- credentials and transport failures ----------------------------------------------------------------


@pytest.mark.parametrize("code", [401, 403])
def test_refused_token_is_never_retried_nor_shown(code: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(status(code, b"Unauthorized"))
    with client(script) as c, pytest.raises(SourceError) as err:
        c.query_range(Q, T0, T0 + 300, 30)
    msg = str(err.value)
    assert "token" in msg and "oc whoami -t" in msg and "OCQ_TOKEN" in msg
    assert len(script.requests) == 1
    assert TOKEN not in msg and TOKEN not in repr(c) and TOKEN not in caplog.text
    assert TOKEN not in repr(c.options) and TOKEN not in repr(err.value)


def test_secret_echoed_by_the_server_is_scrubbed() -> None:
    script = Script(status(400, error_body("bad_data", f"bad header Bearer {TOKEN}")))
    with client(script) as c, pytest.raises(SourceError) as err:
        c.query_range(Q, T0, T0 + 300, 30)
    assert TOKEN not in str(err.value) and "***" in str(err.value)


def test_missing_token_names_the_variable_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OCQ_TOKEN", "  ")
    with pytest.raises(ConfigError, match="OCQ_TOKEN"):
        PromClient(HttpOptions(base_url=BASE, token_env="OCQ_TOKEN"))
    missing = tmp_path / "token"
    with pytest.raises(ConfigError, match="token"):
        PromClient(HttpOptions(base_url=BASE, token_file=missing))
    missing.write_text(f"{TOKEN}\n")
    script = Script(ok)
    with PromClient(
        HttpOptions(base_url=BASE, token_file=missing), transport=httpx.MockTransport(script)
    ) as c:
        c.query_range(Q, T0, T0 + 60, 30)
    assert script.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_post_form_carries_the_thanos_parameters_and_token() -> None:
    script = Script(ok)
    with client(script) as c:
        c.query_range(Q, T0, T0 + 300, 30)
    request = script.requests[0]
    assert request.method == "POST" and request.url == f"{BASE}/api/v1/query_range"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert form(request) == {
        "query": Q,
        "start": "1700000000",
        "end": "1700000300",
        "step": "30",
        "partial_response": "false",
        "max_source_resolution": "0s",
    }
    assert "dedup" not in form(request)


@pytest.mark.parametrize(
    ("base", "compression", "expected"),
    [
        (BASE, "auto", "gzip"),
        ("http://127.0.0.1:9090", "auto", "identity"),
        ("http://127.1.2.3:9090", "auto", "identity"),
        ("http://localhost:9090", "auto", "identity"),
        ("http://[::1]:9090", "auto", "identity"),
        ("http://10.0.0.1:9090", "auto", "gzip"),
        ("http://127.0.0.1:9090", "gzip", "gzip"),
        (BASE, "none", "identity"),
    ],
)
def test_gzip_is_asked_for_except_on_loopback(base: str, compression: str, expected: str) -> None:
    script = Script(ok)
    options = HttpOptions(base_url=base, compression=compression)
    with PromClient(options, transport=httpx.MockTransport(script)) as c:
        c.query_range(Q, T0, T0 + 300, 30)
    assert script.requests[0].headers["Accept-Encoding"] == expected


def test_gzip_answers_are_decoded() -> None:
    def gzipped(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=gzip.compress(answer(request)), headers={"Content-Encoding": "gzip"}
        )

    with client(Script(gzipped), compression="gzip") as c:
        assert c.query_range(Q, T0, T0 + 300, 30) == answer(
            httpx.Request(
                "POST", BASE, data={"query": Q, "start": "1700000000", "end": "1700000300", "step": "30"}
            )
        )


def test_dedup_is_sent_only_when_set() -> None:
    script = Script(ok)
    with client(script, dedup=True, partial_response=True) as c:
        c.query_range(Q, T0, T0 + 300, 30)
    f = form(script.requests[0])
    assert f["dedup"] == "true" and f["partial_response"] == "true"


@pytest.mark.parametrize(
    ("error", "retried", "expected"),
    [
        (httpx.ConnectError("[Errno -2] Name or service not known"), False, "cannot resolve the host"),
        (httpx.ConnectError("[Errno 111] Connection refused"), True, "refused the connection"),
        (
            httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            False,
            "--ca-file",
        ),
    ],
)
def test_connection_failures_are_explained(error: Exception, retried: bool, expected: str) -> None:
    script = Script(raises(error))
    with client(script, max_retries=2) as c, pytest.raises(SourceError, match=expected) as err:
        c.query_range(Q, T0, T0 + 300, 30)
    assert len(script.requests) == (3 if retried else 1)
    if "SSL" in str(error):
        assert "--insecure" in str(err.value)


def test_redact_url() -> None:
    assert redact_url("https://bob:hunter2@thanos.example.com/x") == "https://***@thanos.example.com/x"
    assert redact_url("https://h/api?access_token=abc&q=1") == "https://h/api?access_token=***&q=1"
    assert redact_url("https://thanos.example.com") == "https://thanos.example.com"


def test_credentials_in_the_url_become_basic_auth_and_stay_hidden() -> None:
    script = Script(status(500, b"boom"))
    options = HttpOptions(base_url="https://bob:hunter2@thanos.example.com/", max_retries=0)
    with PromClient(options, transport=httpx.MockTransport(script)) as c, pytest.raises(SourceError) as err:
        c.query_range(Q, T0, T0 + 300, 30)
    assert "hunter2" not in str(err.value) and "hunter2" not in c.label and "hunter2" not in repr(options)
    assert "hunter2" not in str(script.requests[0].url)
    assert script.requests[0].headers["Authorization"].startswith("Basic ")


# --- HttpSource: order, concurrency, resume ------------------------------------------------------------

SPECS = [
    QuerySpec(f"completion/ex{i}/*", "completion", f"ex{i}", None, f'ocq_completion{{exercise="ex{i}"}}')
    for i in range(3)
]
STEP = 30.0
END = T0 + 39 * STEP  # 40 samples: 4 raw chunks of 300 s per query, 12 requests
CHUNK_S = 300.0


def source(script: Script, **kw: object) -> HttpSource:
    options = HttpOptions(base_url=BASE, token_env="OCQ_TOKEN", max_retries=1)
    return HttpSource(
        options,
        transport=httpx.MockTransport(script),
        sleep=lambda s: None,
        chunk_s=CHUNK_S,
        **kw,  # type: ignore[arg-type]
    )


def test_responses_come_in_spec_then_chunk_order_whatever_the_completion_order() -> None:
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def slow_first(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(random.uniform(0, 0.01))  # completion order differs from submission order
        with lock:
            in_flight[0] -= 1
        return ok(request)

    ticks: list[int] = []
    script = Script(slow_first)
    with source(script, progress=ticks.append) as src:
        assert src.plan(SPECS, T0, END) == 12
        out = list(src.responses(SPECS, T0, END))
    chunks = raw_chunks(T0, END, CHUNK_S)
    assert [(r.spec, r.start, r.end) for r in out] == [(s, a, b) for s in SPECS for a, b in chunks]
    for r in out:
        assert orjson.loads(r.body)["data"]["result"][0]["metric"]["query"] == r.spec.query
        assert r.step == RAW and r.origin == BASE
    assert ticks == [1] * 12 and 1 < peak[0] <= 4


def recorded(folder: Path) -> dict[tuple[str, float, float, float], bytes]:
    reader = ReplayReader(folder)
    return {(e.query, e.start, e.end, e.step): reader.read(e) for e in reader.entries}


def test_interrupted_fetch_resumes_with_only_the_missing_requests(tmp_path: Path) -> None:
    good = Script(ok)
    with source(good, recorder=ReplayWriter(tmp_path / "full", BASE)) as src:
        full = list(src.responses(SPECS, T0, END))

    n_ok, served = 5, [0]
    lock = threading.Lock()

    def dies_after_n(request: httpx.Request) -> httpx.Response:
        with lock:
            served[0] += 1
            if served[0] > n_ok:
                raise httpx.ConnectError("[Errno 111] Connection refused")
        return ok(request)

    folder = tmp_path / "resumed"
    with source(Script(dies_after_n), recorder=ReplayWriter(folder, BASE)) as src, pytest.raises(SourceError):
        list(src.responses(SPECS, T0, END))
    assert len(recorded(folder)) == n_ok

    second = Script(ok)
    ticks: list[int] = []
    with source(second, recorder=ReplayWriter(folder, BASE), progress=ticks.append) as src:
        again = list(src.responses(SPECS, T0, END))
    assert len(second.requests) == 12 - n_ok and ticks == [1] * 12
    assert [(r.spec, r.start, r.end, r.body) for r in again] == [
        (r.spec, r.start, r.end, r.body) for r in full
    ]
    assert recorded(folder) == recorded(tmp_path / "full")


def test_unsettled_chunks_are_fetched_again(tmp_path: Path) -> None:
    """A chunk recorded before its end had settled (event still running) is never reused."""
    from ocq_batch.timeutil import from_epoch, iso

    spec = QuerySpec("completion/hero/prod", "completion", "hero", "prod", "up")
    start, end = 1_700_000_000.0, 1_700_000_000.0 + 600
    (chunk,) = raw_chunks(start, end)
    folder = tmp_path / "rec"
    writer = ReplayWriter(folder, BASE)
    early = matrix_body([({"user": "a"}, [(start, 0.0)])])
    writer.add("up", *chunk, RAW, early, key=spec.key, recorded_at=iso(from_epoch(end - 60)))
    calls: list[int] = []
    late = matrix_body([({"user": "a"}, [(start, 0.0), (end, 1.0)])])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=late)

    opts = HttpOptions(BASE)
    with HttpSource(opts, recorder=ReplayWriter(folder, BASE), transport=httpx.MockTransport(handler)) as src:
        (resp,) = list(src.responses([spec], start, end))
    assert calls == [1] and resp.body == late
    assert ReplayReader(folder).read(ReplayReader(folder).entries[0]) == late  # the newer answer wins
    # now settled (recorded long after its end): reused without a request
    with HttpSource(opts, recorder=ReplayWriter(folder, BASE), transport=httpx.MockTransport(handler)) as src:
        list(src.responses([spec], start, end))
    assert calls == [1]
    # --refetch fetches it all the same
    with HttpSource(
        HttpOptions(BASE, refetch=True),
        recorder=ReplayWriter(folder, BASE),
        transport=httpx.MockTransport(handler),
    ) as src:
        list(src.responses([spec], start, end))
    assert calls == [1, 1]


def test_a_lost_recording_says_refetch_and_refetch_repairs_it(tmp_path: Path) -> None:
    spec = QuerySpec("completion/hero/prod", "completion", "hero", "prod", "up")
    start, end = 1_700_000_000.0, 1_700_000_000.0 + 600
    (chunk,) = raw_chunks(start, end)
    folder = tmp_path / "rec"
    body = matrix_body([({"user": "a"}, [(start, 0.0), (end, 1.0)])])
    entry = ReplayWriter(folder, BASE).add("up", *chunk, RAW, body, key=spec.key)  # settled: recorded now
    (folder / entry.file).unlink()  # e.g. an OS crash before the folder reached the disk
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with (
        HttpSource(HttpOptions(BASE), recorder=ReplayWriter(folder, BASE), transport=transport) as src,
        pytest.raises(ReplayError, match="run the same command again with --refetch"),
    ):
        list(src.responses([spec], start, end))
    opts = HttpOptions(BASE, refetch=True)
    with HttpSource(opts, recorder=ReplayWriter(folder, BASE), transport=transport) as src:
        (resp,) = list(src.responses([spec], start, end))
    assert resp.body == body
    assert ReplayReader(folder).entries == [entry] and ReplayReader(folder).read(entry) == body
