"""Fixtures for tests against a real Prometheus (Debian's ``prometheus`` package, 2.42).

Register with ``pytest_plugins = ["promfixtures"]``. The demo event's TSDB (raw series plus
the backfilled live rules of ``data/rules/``) is built once per session; every test gets its
own copy and its own server, because a running server compacts the blocks it serves.
Without the binaries the tests are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocq_batch.config.model import DEFAULT
from ocq_batch.sim.event import Event, SimParams, build_event
from testbench.live_rules import rules_yaml
from testbench.prometheus import PromServer, build_tsdb, copy_tsdb

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "data" / "rules" / "opencodequest.rules.yml"


def require_prometheus() -> None:
    """Skip (fail under CI) when Debian's prometheus and promtool are not installed."""
    missing = [name for name in ("prometheus", "promtool") if shutil.which(name) is None]
    if missing:
        message = (
            f"{' and '.join(missing)} not found; install them with "
            "`apt-get install -y --no-install-recommends prometheus`"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def demo_params() -> SimParams:
    """The bundled demo event, as ``ocq-batch simulate`` draws it (data from T0 - 15 min)."""
    return SimParams(start=DEFAULT.start.timestamp() - 900)


def query_range(
    server: PromServer, query: str, start: float, end: float, step: float
) -> list[dict[str, Any]]:
    """``query_range`` result (POST form): a list of ``{"metric": labels, "values": [[ts, "v"], ...]}``."""
    form = {"query": query, "start": str(start), "end": str(end), "step": str(step)}
    return _post(server, "/api/v1/query_range", form)


def query(server: PromServer, expr: str, at: float) -> list[dict[str, Any]]:
    """Instant ``query`` result (POST form): a list of ``{"metric": labels, "value": [ts, "v"]}``."""
    return _post(server, "/api/v1/query", {"query": expr, "time": str(at)})


def _post(server: PromServer, path: str, form: dict[str, str]) -> list[dict[str, Any]]:
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        response = client.post(server.url + path, data=form)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@pytest.fixture(scope="session")
def demo_event() -> Event:
    return build_event(demo_params())


@pytest.fixture(scope="session")
def demo_tsdb(tmp_path_factory: pytest.TempPathFactory, demo_event: Event) -> Path:
    """The demo event's TSDB folder, built once per session: read-only, copy it to serve it."""
    require_prometheus()
    return build_tsdb(demo_event, tmp_path_factory.mktemp("demo-tsdb"), RULES)


@pytest.fixture
def prometheus(demo_tsdb: Path, tmp_path: Path) -> Iterator[PromServer]:
    """A server over a private copy of the demo TSDB, stopped at teardown."""
    data = copy_tsdb(demo_tsdb, tmp_path / "tsdb")
    with PromServer(tmp_path).start(data) as server:
        yield server


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator[Callable[..., PromServer]]:
    """Factory: ``prometheus_for(event, rules=None)`` builds and serves a TSDB for a custom event.

    ``rules=None`` uses the live rules generated for ``event.config``; pass ``raw_only=True``
    for the raw kube-state-metrics series alone. Every server is stopped at teardown.
    """
    servers: list[PromServer] = []

    def start(event: Event, rules: Path | None = None, raw_only: bool = False) -> PromServer:
        require_prometheus()
        work = tmp_path / f"bench{len(servers)}"
        work.mkdir()
        if rules is None and not raw_only:
            rules = work / "live.rules.yml"
            rules.write_text(rules_yaml(event.config), encoding="utf-8")
        data = build_tsdb(event, work, None if raw_only else rules)
        server = PromServer(work)
        servers.append(server)
        return server.start(data)

    yield start
    for server in servers:
        server.stop()
