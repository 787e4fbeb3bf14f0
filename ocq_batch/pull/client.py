"""A Prometheus / Thanos HTTP source: ``/api/v1/query_range`` (and instant ``/api/v1/query``).

One shared :class:`httpx.Client` (connection pool) serves every request. Long
ranges are split by :func:`~ocq_batch.pull.api.chunk_range` under the 11,000 points per series
limit; each chunk is one POST (long PromQL does not fit in a URL). TransientError
failures (connection errors, timeouts, a body cut mid-way, 429, 5xx) are
retried with exponential backoff and full jitter; a rejected query (400/422)
or refused credentials (401/403) fail at once with a message saying what to do
(what a body means is :mod:`ocq_batch.pull.api`).

The bearer token is read from an environment variable or a file and never
appears in a message, a log line or a repr.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from ocq_batch import __version__
from ocq_batch.closing import Closing
from ocq_batch.errors import ChunkTooLargeError, ConfigError, SourceError, TransientError
from ocq_batch.pull.api import RAW, check_body, check_compression, error_text, num, retry_after, wire_form
from ocq_batch.pull.http_options import HttpOptions, redact_url
from ocq_batch.pull.scan import Scanned

log = logging.getLogger(__name__)
_insecure_warned = False


def _read_env_secret(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"the environment variable {name} that should hold the {what} is unset or empty")
    return value


def _read_token(options: HttpOptions) -> str | None:
    if options.token_env and options.token_file:
        raise ConfigError(
            "give the token either by environment variable (--token-env) or file (--token-file)"
        )
    if options.token_env:
        return _read_env_secret(options.token_env, "bearer token (e.g. from 'oc whoami -t')")
    if options.token_file:
        try:
            token = options.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ConfigError(f"cannot read the token file {options.token_file}: {reason}") from None
        if not token:
            raise ConfigError(f"the token file {options.token_file} is empty; write 'oc whoami -t' into it")
        return token
    return None


def _accept_encoding(compression: str, host: str) -> str:
    """What to ask the server for: gzip saves bandwidth over a network, but on a loopback
    address it only costs CPU on both ends (at 1e7 samples the server spends about 1.5
    more core-seconds compressing than sending), so ``auto`` asks for none there."""
    if check_compression(compression) == "auto":
        compression = "none" if _is_loopback(host) else "gzip"
    return "gzip" if compression == "gzip" else "identity"


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PromClient(Closing):
    """Query API client over one shared, thread-safe ``httpx.Client``; use it as a context manager."""

    def __init__(
        self,
        options: HttpOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options
        self.label = redact_url(options.base_url)
        self.warnings: list[str] = []
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        parts = urlsplit(options.base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"the source URL {self.label!r} must look like https://thanos-querier.example.com"
            )
        netloc = parts.netloc.rsplit("@", 1)[-1]
        path = re.sub(r"/api/v1/?$", "", parts.path.rstrip("/"))
        self._base = urlunsplit((parts.scheme, netloc, path, "", ""))
        auth: httpx.Auth | None = None
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": _accept_encoding(options.compression, parts.hostname),
            "User-Agent": f"ocq-batch/{__version__}",
        }
        token = _read_token(options)
        if token:
            self._secrets.append(token)
            headers["Authorization"] = f"Bearer {token}"
        password: str | None = None
        if options.basic_user is not None:
            if not options.basic_password_env:
                raise ConfigError(
                    "--basic-user needs --basic-password-env NAME, the environment variable holding "
                    "the password (never the password itself)"
                )
            password = _read_env_secret(options.basic_password_env, "basic auth password")
            auth = httpx.BasicAuth(options.basic_user, password)
        elif parts.username is not None:  # user:pass@ in the URL: used, but kept out of request URLs and logs
            password = unquote(parts.password or "")
            auth = httpx.BasicAuth(unquote(parts.username), password)
        if password:
            self._secrets.append(password)
        if token and auth is not None:
            raise ConfigError("give either a bearer token or basic auth credentials, not both")
        self._http = httpx.Client(
            headers=headers, auth=auth, verify=self._verify(), transport=transport, follow_redirects=False
        )

    def _verify(self) -> ssl.SSLContext | bool:
        global _insecure_warned
        if self.options.insecure:
            if self.options.ca_file:
                raise ConfigError("--ca-file and --insecure contradict each other; keep --ca-file")
            if not _insecure_warned:
                _insecure_warned = True
                log.warning(
                    "TLS certificate verification is off (--insecure); use --ca-file outside test clusters"
                )
            return False
        if self.options.ca_file is None:
            if urlsplit(self.options.base_url.strip()).scheme == "http":
                # plain HTTP opens no TLS connection: skip loading the CA bundle (~0.2 s), and
                # fail closed should one ever be opened (a context that trusts no CA)
                return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            return True
        try:
            return ssl.create_default_context(cafile=str(self.options.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the CA bundle {self.options.ca_file}: {exc}") from None

    def __repr__(self) -> str:
        return f"PromClient({self.label!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _thanos(self) -> dict[str, str]:
        params = {
            "partial_response": "true" if self.options.partial_response else "false",
            "max_source_resolution": self.options.max_source_resolution,
        }
        if self.options.dedup is not None:
            params["dedup"] = "true" if self.options.dedup else "false"
        return params

    def query_range(self, query: str, start: float, end: float, step: float) -> bytes:
        """The raw body of ONE ``query_range`` request over ``[start, end]`` (unix s) at ``step`` s."""
        body, warnings, _ = self.fetch_range(query, start, end, step)
        with self._lock:
            self.warnings.extend(warnings)
        return body

    def fetch_range(
        self, query: str, start: float, end: float, step: float, cancel: threading.Event | None = None
    ) -> tuple[bytes, list[str], Scanned | None]:
        """Like :meth:`query_range`, also returning the body's warnings as ``"query: warning"``
        and the body as scanned when it was checked (None: the loader parses it)."""
        path, form = wire_form(query, start, end, step)
        return self._request(path, {**form, **self._thanos()}, query, frozenset({"matrix"}), cancel)

    def fetch_raw(
        self, query: str, start: float, end: float, cancel: threading.Event | None = None
    ) -> tuple[bytes, list[str], Scanned | None]:
        """The stored samples of ``query`` (a plain selector) in ``(start, end]``: an instant
        query of the range selector at ``end``; a matrix, checked as :meth:`fetch_range`'s.
        Raises ChunkTooLargeError when the server refuses to load that many samples at once."""
        path, form = wire_form(query, start, end, RAW)
        return self._request(path, {**form, **self._thanos()}, query, frozenset({"matrix"}), cancel)

    def query(self, query: str, time: float) -> bytes:
        """The raw body of an instant query at ``time`` (unix s); a vector or a scalar."""
        form = {"query": query, "time": num(time), **self._thanos()}
        body, warnings, _ = self._request("/api/v1/query", form, query, frozenset({"vector", "scalar"}), None)
        with self._lock:
            self.warnings.extend(warnings)
        return body

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact_url(text)

    def _request(
        self,
        path: str,
        form: dict[str, str],
        query: str,
        result_types: frozenset[str],
        cancel: threading.Event | None,
    ) -> tuple[bytes, list[str], Scanned | None]:
        attempts = self.options.max_retries + 1
        deadline = self._clock() + self.options.total_timeout_s
        problem, made = "", 0
        for attempt in range(1, attempts + 1):
            if cancel is not None and cancel.is_set():
                raise SourceError(f"query {query!r} was cancelled after another request failed")
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            made = attempt
            try:
                body = self._attempt(path, form, query, min(self.options.request_timeout_s, remaining))
                warnings, scanned = check_body(body, query, result_types, self.options.allow_partial)
                return body, [f"{query}: {w}" for w in warnings], scanned
            except TransientError as exc:  # before SourceError, of which it is one
                problem = self._scrub(exc.problem)
                retry_after = exc.retry_after
            except SourceError as exc:  # the same kind of error, with no secret in its message
                raise type(exc)(self._scrub(str(exc))) from None
            if attempt == attempts:
                break
            if retry_after is not None:
                delay = min(retry_after, self.options.backoff_max_s)
            else:
                cap = min(self.options.backoff_max_s, self.options.backoff_base_s * 2 ** (attempt - 1))
                delay = self._rng.uniform(0, cap)
            if self._clock() + delay > deadline:
                break
            log.info("query %r: %s; retry %d/%d in %.1fs", query, problem, attempt, attempts - 1, delay)
            if cancel is not None and self._sleep is time.sleep:
                cancel.wait(delay)  # the real wait ends early when another chunk failed
            else:
                self._sleep(delay)
        raise SourceError(
            f"gave up on query {query!r} at {self.label} after {made} attempt(s) "
            f"(limits: {self.options.max_retries} retries, {self.options.total_timeout_s:g}s in total); "
            f"last problem: {problem or 'the total timeout ran out'}"
        )

    def _attempt(self, path: str, form: dict[str, str], query: str, timeout: float) -> bytes:
        """One POST; returns a 200 body, raises TransientError (retry) or SourceError (do not)."""
        try:
            resp = self._http.post(self._base + path, data=form, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise TransientError(f"no answer within {timeout:g}s ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise self._connect_problem(exc) from None
        except httpx.RemoteProtocolError as exc:
            raise TransientError(f"the connection broke mid-response ({exc})") from None
        except (httpx.NetworkError, httpx.DecodingError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        except httpx.UnsupportedProtocol:
            raise SourceError(f"the source URL {self.label} must start with http:// or https://") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"request to {self.label} failed: {type(exc).__name__}: {exc}") from None
        status, body = resp.status_code, resp.content
        if status == 200:
            return body
        err = error_text(body)
        detail = f"{err[0]}: {err[1]}" if err else f"HTTP {status} {resp.reason_phrase}".strip()
        if status in (401, 403) or 300 <= status < 400:
            seen = f"HTTP {status}" + (
                " (a redirect, as an OAuth proxy does to a login page)" if status < 400 else ""
            )
            raise SourceError(
                f"{self.label} refused the credentials for query {query!r} ({seen}): the token is missing, "
                "expired or lacks rights to read metrics (cluster-monitoring-view); get a fresh one with "
                f"'oc whoami -t' and put it in {self._token_hint()}"
            )
        if status == 422 and err is not None and "too many samples" in err[1]:
            raise ChunkTooLargeError(f"{self.label} would load too many samples for query {query!r} at once")
        if status in (400, 422):
            raise SourceError(f"the server rejected query {query!r}: {detail}; fix the query in [queries]")
        if status == 404:
            raise SourceError(
                f"{self.label} has no {path} (HTTP 404); give the querier's base URL, without /api/v1"
            )
        if status == 429 or status >= 500:
            wait = retry_after(resp.headers.get("Retry-After"))
            raise TransientError(f"HTTP {status} ({detail})" if err else detail, wait)
        raise SourceError(f"{self.label} answered query {query!r} with {detail}")

    def _token_hint(self) -> str:
        if self.options.token_env:
            return f"the environment variable {self.options.token_env} (--token-env)"
        if self.options.token_file:
            return f"the file {self.options.token_file} (--token-file)"
        return "an environment variable named by --token-env or a file given by --token-file"

    def _connect_problem(self, exc: httpx.ConnectError) -> Exception:
        text = str(exc)
        low = text.lower()
        chain: BaseException | None = exc
        while chain is not None:
            if isinstance(chain, ssl.SSLCertVerificationError):
                low += " certificate_verify_failed"
            chain = chain.__cause__ or chain.__context__
        if "certificate_verify_failed" in low or "certificate verify failed" in low:
            return SourceError(
                f"TLS certificate verification failed for {self.label} ({text}); pass --ca-file with the "
                "CA bundle that signed the server certificate, or --insecure on a throwaway test cluster"
            )
        host = urlsplit(self._base).hostname
        if "wrong_version_number" in low or "wrong version number" in low:
            # a TLS handshake answered in plain HTTP: the server speaks http; retrying cannot help
            plain = urlunsplit(("http", *urlsplit(self._base)[1:]))
            return SourceError(
                f"{self.label} does not speak TLS (the handshake got a plain HTTP answer: {text}); "
                f"this port serves http, not https: try --source {redact_url(plain)}"
            )
        if any(
            s in low for s in ("name or service not known", "nodename nor servname", "getaddrinfo failed")
        ):
            return SourceError(
                f"cannot resolve the host {host!r} of {self.label} ({text}); check the source URL"
            )
        if "name resolution" in low or "resolve" in low:
            return TransientError(f"DNS lookup of {host!r} failed ({text})")
        if "refused" in low:
            return TransientError(
                f"{self.label} refused the connection; is the server up and the port right? ({text})"
            )
        return TransientError(f"cannot connect to {self.label} ({text})")
