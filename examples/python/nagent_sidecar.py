"""A client of the Nagent Mesh sidecar for Python agent services.

The app beside a sidecar reads its configuration from the sidecar's copy, follows changes to it,
and calls other domains through the sidecar's outbound port (default http://127.0.0.1:15001, or
the ``NAGENT_SIDECAR_URL`` environment variable). Standard library only; Python 3.9+.

    from nagent_sidecar import SidecarClient, UnauthenticatedError

    sidecar = SidecarClient(token=os.environ["AGENT_TOKEN"])
    settings = sidecar.get_config("agents/writer/settings", default={})
    answer = sidecar.invoke("execution", "/v1/tasks", {"task": "summarise"}).json()
    for event in sidecar.watch_config("agents/writer/"):
        print(event.type, event.key, event.value)

Error answers raise typed exceptions, all subclasses of :class:`NagentError`, with the
sidecar's ``code``, ``message`` and the rest of its JSON error body in ``details``. It is the
Python counterpart of the TypeScript ``SidecarClient`` in ``pkg/``.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generator, Iterator, List, Mapping, Optional, Set, Tuple, Type

__all__ = [
    "DEFAULT_SIDECAR_URL",
    "DRAINING_HEADER",
    "FALLBACK_HEADER",
    "CircuitOpenError",
    "ConfigEvent",
    "ForbiddenError",
    "InvalidRequestError",
    "InvokeError",
    "InvokeResponse",
    "InvokeTimeoutError",
    "NagentError",
    "NoHealthyInstanceError",
    "NotFoundError",
    "SidecarClient",
    "SidecarUnavailableError",
    "UnauthenticatedError",
    "UpstreamFailedError",
    "error_from_response",
]

DEFAULT_SIDECAR_URL = "http://127.0.0.1:15001"
"""The sidecar's outbound port when neither ``url`` nor ``NAGENT_SIDECAR_URL`` says otherwise."""

FALLBACK_HEADER = "x-nagent-fallback"
"""The header the sidecar puts on an answer that a fallback produced."""

DRAINING_HEADER = "x-nagent-draining"
"""Sent by a draining sidecar on every answer to its app: the milliseconds until its port closes."""

# With connect_retry, calls due from this long before a draining sidecar's port closes until this
# long after are held, then sent to the restarted sidecar: a call sent as the port closes can be
# cut before the sidecar reads it, and the app could not tell that from a call it received.
_HOLD_BEFORE_CLOSE = 0.25
_HOLD_AFTER_CLOSE = 0.05

_MISSING: Any = object()


# ---- errors ------------------------------------------------------------------------------------


class NagentError(Exception):
    """Any failure of a call to the sidecar.

    ``status`` is the HTTP status (0 when no answer came), ``code`` the sidecar's error code
    (``not_found``, ``no_healthy_instance``, ...), ``details`` the other fields of its JSON error
    body, ``endpoint`` the sidecar's URL.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        details: Optional[Mapping[str, Any]] = None,
        endpoint: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details: Dict[str, Any] = dict(details or {})
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f"{self.status} " if self.status else ""
        return f"{where}{self.code}: {self.message}"


class InvalidRequestError(NagentError):
    """400: the request was malformed (an invalid key or domain)."""


class UnauthenticatedError(NagentError):
    """401: no credential, or one the called sidecar does not accept; ``reason`` says why."""

    @property
    def reason(self) -> Optional[str]:
        """``missing``, ``expired``, ``revoked``, ``bad_signature``, ``wrong_audience``, ... when the sidecar says."""
        value = self.details.get("reason")
        return value if isinstance(value, str) else None


class ForbiddenError(NagentError):
    """403: an ``authz`` policy refuses the call; ``policy`` names it."""

    @property
    def policy(self) -> Optional[str]:
        """The refusing policy's name, when the sidecar says."""
        value = self.details.get("policy")
        return value if isinstance(value, str) else None


class NotFoundError(NagentError):
    """404: no such config key."""


class InvokeError(NagentError):
    """A call the mesh could not complete; ``attempts`` lists what the sidecar tried."""

    @property
    def attempts(self) -> List[Dict[str, Any]]:
        """Each attempt as ``{"instance", "outcome", "status"?}``; empty when none was made."""
        value = self.details.get("attempts")
        return [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []


class UpstreamFailedError(InvokeError):
    """502: every attempt failed, or the called node's app did not answer."""


class CircuitOpenError(InvokeError):
    """503 ``circuit_open``: the target domain's breaker is open; calls fail fast for now."""


class NoHealthyInstanceError(InvokeError):
    """503 ``no_healthy_instance``: no healthy node serves the domain."""


class InvokeTimeoutError(InvokeError):
    """The deadline passed: the sidecar's (504 ``timeout``) or this client's (status 0, ``client_timeout``)."""


class SidecarUnavailableError(NagentError):
    """The sidecar could not be reached (not running, wrong URL, no answer in time)."""


_BY_STATUS: Dict[int, Type[NagentError]] = {400: InvalidRequestError, 401: UnauthenticatedError, 403: ForbiddenError, 404: NotFoundError, 502: UpstreamFailedError, 504: InvokeTimeoutError}
_BY_CODE: Dict[str, Type[NagentError]] = {"circuit_open": CircuitOpenError, "no_healthy_instance": NoHealthyInstanceError}


def error_from_response(status: int, body: bytes, endpoint: str) -> NagentError:
    """The typed error for an error answer, from its ``{"error": {"code", "message", ...}}`` body."""
    error: Dict[str, Any] = {}
    try:
        parsed = json.loads(body.decode("utf-8")) if body else None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = dict(parsed["error"])
    except (ValueError, UnicodeDecodeError):
        pass
    code = error.pop("code", None)
    message = error.pop("message", None)
    code = code if isinstance(code, str) else f"http_{status}"
    if not isinstance(message, str) or not message:
        message = body.decode("utf-8", "replace").strip()[:200] or f"HTTP {status}"
    kind: Type[NagentError] = NagentError
    if status == 503 and code in _BY_CODE:
        kind = _BY_CODE[code]
    elif status in _BY_STATUS:
        kind = _BY_STATUS[status]
    return kind(message, status=status, code=code, details=error, endpoint=endpoint)


# ---- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigEvent:
    """One event of :meth:`SidecarClient.watch_config`.

    ``type`` is ``put`` (``value`` is the new value), ``delete``, or ``synced``: the events so far
    are the sidecar's whole copy under the prefix (``key`` is empty; ``resumed`` is true after a
    reconnect). ``revision`` is the sidecar's revision when the change was applied.
    """

    type: str
    key: str
    revision: int
    value: Any = None
    resumed: bool = False


@dataclass(frozen=True)
class InvokeResponse:
    """A 2xx answer of :meth:`SidecarClient.invoke`."""

    status: int
    headers: Dict[str, str]
    body: bytes

    @property
    def fallback(self) -> Optional[str]:
        """``static``, ``domain`` or ``cache`` when a fallback produced the answer, else None."""
        return self.headers.get(FALLBACK_HEADER)

    @property
    def text(self) -> str:
        """The body as text (UTF-8)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (None for an empty body)."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


# ---- the client --------------------------------------------------------------------------------


def _key_path(key: str) -> str:
    """Each ``/``-separated segment percent-encoded, keeping the characters keys may hold."""
    return "/".join(urllib.parse.quote(segment, safe="-._~:@") for segment in key.split("/"))


class SidecarClient:
    """A client of the sidecar beside this agent service.

    ``url`` defaults to ``NAGENT_SIDECAR_URL``, else http://127.0.0.1:15001. ``token`` is the
    app's credential for :meth:`invoke` (the local config API needs none). ``timeout`` (seconds)
    bounds config and status calls; ``invoke_timeout`` bounds calls to other domains.

    ``connect_retry`` (seconds, default 0: off) rides through a restart of the sidecar: a call
    whose connection is refused (nothing was sent, so any method is safe) is tried again, backing
    off from 25 ms to 500 ms, for up to that long and within the call's own timeout; and calls due
    just as a draining sidecar closes its port (it says when, in ``x-nagent-draining``) wait until
    it has. Nothing else is tried again: a call that may have reached the sidecar is never sent twice.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 5.0,
        invoke_timeout: float = 30.0,
        connect_retry: float = 0.0,
    ) -> None:
        url = url or os.environ.get("NAGENT_SIDECAR_URL") or DEFAULT_SIDECAR_URL
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"not a sidecar URL: {url!r} (expected e.g. {DEFAULT_SIDECAR_URL})")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.invoke_timeout = invoke_timeout
        self.connect_retry = max(0.0, connect_retry)
        # When (time.monotonic()) a draining sidecar said its port closes; 0: no notice.
        self._closes_at = 0.0
        # The sidecar is on this machine: never through an HTTP proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- configuration, from the sidecar's copy

    def get_config(self, key: str, default: Any = _MISSING) -> Any:
        """The value of one config key; ``default`` when absent if given, else :class:`NotFoundError`."""
        try:
            if key == "watch":
                # GET /v1/config/watch is the sidecar's watch stream, not the key "watch": read it from a list.
                listed = self.list_config(key)
                if key not in listed:
                    raise NotFoundError(f"no config key {key}", status=404, code="not_found", endpoint=self.url)
                return listed[key]
            return self._get(f"/v1/config/{_key_path(key)}")["value"]
        except NotFoundError:
            if default is _MISSING:
                raise
            return default

    def list_config(self, prefix: str = "") -> Dict[str, Any]:
        """Every config key under a prefix (all when empty), as a dict of key to value, sorted by key."""
        answer = self._get("/v1/config?" + urllib.parse.urlencode({"prefix": prefix}))
        return {item["key"]: item.get("value") for item in answer.get("items", [])}

    def watch_config(
        self,
        prefix: str = "",
        *,
        reconnect: bool = True,
        idle_timeout: float = 45.0,
        backoff: Tuple[float, float] = (0.1, 5.0),
        on_error: Optional[Callable[[NagentError], None]] = None,
    ) -> Iterator[ConfigEvent]:
        """Follows the config keys under a prefix, as a generator of :class:`ConfigEvent`.

        First a ``put`` for each current key, then ``synced``, then each change. When the stream
        breaks (the sidecar restarts, the connection drops, nothing arrived for ``idle_timeout``
        seconds while the sidecar sends a keepalive every 15) it reconnects, backing off from
        ``backoff[0]`` to ``backoff[1]`` seconds with jitter, once the sidecar is ready again, and
        yields only what changed meanwhile (a new value, or a ``delete`` for a key now gone), then
        ``synced`` again with ``resumed=True``. ``on_error`` sees each failure that is retried.
        With ``reconnect=False`` the first failure is raised. An invalid prefix raises
        :class:`InvalidRequestError`. Stop by leaving the loop (or ``close()`` on the generator).
        """
        known: Dict[str, Tuple[str, Any]] = {}
        resumed = False
        attempt = 0
        while True:
            try:
                self._wait_ready()
                stream = self._watch_once(prefix, known, resumed, idle_timeout)
                try:
                    for event in stream:
                        if event.type == "synced":
                            attempt = 0
                            resumed = True
                        yield event
                finally:
                    # Closes the connection at once when the caller stops the watch.
                    stream.close()
                failure = NagentError(f"the config watch from {self.url} ended", status=0, code="stream_ended", endpoint=self.url)
            except NagentError as error:
                if not _transient(error):
                    raise
                failure = error
            if not reconnect:
                raise failure
            if on_error is not None:
                on_error(failure)
            ceiling = min(backoff[1], backoff[0] * (2 ** min(attempt, 30)))
            attempt += 1
            time.sleep(ceiling / 2 + random.random() * ceiling / 2)

    # -- the sidecar

    def status(self) -> Dict[str, Any]:
        """What the sidecar holds, where from, how far behind the control plane, its breakers."""
        answer: Dict[str, Any] = self._get("/v1/status")
        return answer

    def ready(self) -> bool:
        """Whether the sidecar is ready (synced, or started from its cache); False when unreachable."""
        try:
            with self._opener.open(self.url + "/readyz", timeout=self.timeout) as response:
                status: int = response.status
                return 200 <= status < 300
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            return False

    # -- calls to other domains

    def invoke(
        self,
        domain: str,
        path: str,
        body: Any = None,
        token: Optional[str] = None,
        *,
        method: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        traceparent: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> InvokeResponse:
        """Calls ``path`` on a domain, wherever it runs, through the sidecar.

        ``body``: bytes as they are, a str as UTF-8 text, anything else as JSON. The method is
        POST with a body, else GET, unless given. The credential is ``token``, else the client's.
        ``traceparent`` continues the caller's W3C trace. A 2xx answers an
        :class:`InvokeResponse` (``fallback`` says whether a fallback produced it); any other
        status raises the typed error: :class:`UnauthenticatedError` (401),
        :class:`ForbiddenError` (403), :class:`NoHealthyInstanceError` and
        :class:`CircuitOpenError` (503), :class:`UpstreamFailedError` (502),
        :class:`InvokeTimeoutError` (504, or ``timeout`` seconds passed here).
        """
        fields: Dict[str, str] = {"accept": "application/json"}
        data: Optional[bytes] = None
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode("utf-8")
            fields["content-type"] = "text/plain; charset=utf-8"
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            fields["content-type"] = "application/json"
        credential = token if token is not None else self.token
        if credential:
            fields["authorization"] = f"Bearer {credential}"
        if traceparent:
            fields["traceparent"] = traceparent
        for name, value in (headers or {}).items():
            fields[name.lower()] = value
        if not path.startswith(("/", "?")):
            path = "/" + path
        url = f"{self.url}/v1/invoke/{urllib.parse.quote(domain, safe='')}{path}"
        request = urllib.request.Request(url, data=data, headers=fields, method=method or ("POST" if data is not None else "GET"))
        limit = self.invoke_timeout if timeout is None else timeout
        try:
            with self._open(request, limit) as response:
                return InvokeResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as error:
            raise error_from_response(error.code, _read_quietly(error), self.url) from None
        except (socket.timeout, TimeoutError) as error:
            raise InvokeTimeoutError(f"no answer from {domain}{path} through the sidecar within {limit} s", status=0, code="client_timeout", endpoint=self.url) from error
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise _unavailable(self.url, error) from error

    # -- internals

    def _get(self, path: str) -> Any:
        try:
            with self._open(urllib.request.Request(self.url + path, headers={"accept": "application/json"}), self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            raise error_from_response(error.code, _read_quietly(error), self.url) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
            raise _unavailable(self.url, error) from error

    def _open(self, request: urllib.request.Request, timeout: float) -> Any:
        """Opens ``request``, with ``connect_retry``: held across a draining sidecar's close, tried again while refused."""
        deadline = time.monotonic() + timeout
        if self.connect_retry > 0 and self._closes_at > 0:
            now = time.monotonic()
            if self._closes_at - _HOLD_BEFORE_CLOSE <= now < self._closes_at + _HOLD_AFTER_CLOSE:
                time.sleep(self._closes_at + _HOLD_AFTER_CLOSE - now)
        give_up: Optional[float] = None
        attempt = 0
        while True:
            try:
                response = self._opener.open(request, timeout=max(0.001, deadline - time.monotonic()))
                self._note_closing(response.headers)
                return response
            except urllib.error.HTTPError as error:
                self._note_closing(error.headers)
                raise
            except urllib.error.URLError as error:
                if self.connect_retry <= 0 or not isinstance(error.reason, ConnectionRefusedError):
                    raise
                now = time.monotonic()
                if give_up is None:
                    give_up = now + self.connect_retry
                ceiling = min(0.5, 0.025 * (2 ** min(attempt, 10)))
                attempt += 1
                wait = ceiling / 2 + random.random() * ceiling / 2
                if now + wait > min(give_up, deadline):
                    raise
                time.sleep(wait)

    def _note_closing(self, headers: Any) -> None:
        """Remembers when a draining sidecar's port closes, from its notice on an answer."""
        notice = headers.get(DRAINING_HEADER) if headers is not None else None
        if notice is None:
            return
        try:
            ms = float(notice)
        except ValueError:
            return
        if 0 <= ms <= 300_000:
            self._closes_at = time.monotonic() + ms / 1000

    def _wait_ready(self) -> None:
        """Raises a retryable error unless the sidecar is ready: only a ready sidecar's replay is its real copy."""
        try:
            with self._opener.open(self.url + "/readyz", timeout=self.timeout):
                return
        except urllib.error.HTTPError as error:
            _read_quietly(error)
            raise NagentError(f"the sidecar at {self.url} is not ready ({error.code})", status=0, code="sidecar_not_ready", endpoint=self.url) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise _unavailable(self.url, error) from error

    def _watch_once(self, prefix: str, known: Dict[str, Tuple[str, Any]], resumed: bool, idle_timeout: float) -> Generator[ConfigEvent, None, None]:
        """One stream: its replay compared with ``known`` (what was yielded), then live changes."""
        url = f"{self.url}/v1/config/watch?" + urllib.parse.urlencode({"prefix": prefix})
        request = urllib.request.Request(url, headers={"accept": "text/event-stream"})
        try:
            response = self._opener.open(request, timeout=idle_timeout)
        except urllib.error.HTTPError as error:
            raise error_from_response(error.code, _read_quietly(error), self.url) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise _unavailable(self.url, error) from error
        # Keys in this stream's replay of the current values, until `synced`.
        replayed: Optional[Set[str]] = set()
        latest = 0
        try:
            for name, data in _sse_events(response, self.url):
                if name in ("put", "delete"):
                    try:
                        change = json.loads(data)
                        key, revision = str(change["key"]), int(change["revision"])
                    except (ValueError, KeyError, TypeError):
                        raise NagentError(f"config watch from {self.url} sent an event that is not a change: {data[:200]}", status=0, code="bad_event", endpoint=self.url) from None
                    latest = max(latest, revision)
                    if replayed is not None:
                        replayed.add(key)
                    event = _changed(known, name, key, change.get("value"), revision)
                    if event is not None:
                        yield event
                elif name == "synced":
                    try:
                        revision = int(json.loads(data).get("revision", latest))
                    except (ValueError, AttributeError, TypeError):
                        revision = latest
                    latest = max(latest, revision)
                    for key in [k for k in known if replayed is not None and k not in replayed]:
                        event = _changed(known, "delete", key, None, revision)
                        if event is not None:
                            yield event
                    replayed = None
                    yield ConfigEvent("synced", "", latest, resumed=resumed)
        finally:
            response.close()


def _changed(known: Dict[str, Tuple[str, Any]], kind: str, key: str, value: Any, revision: int) -> Optional[ConfigEvent]:
    """The event to yield for a change, recorded in ``known``; None when the app has it already."""
    if kind == "put":
        text = json.dumps(value, sort_keys=True)
        if key in known and known[key][0] == text:
            return None
        known[key] = (text, value)
        return ConfigEvent("put", key, revision, value)
    if key not in known:
        return None
    del known[key]
    return ConfigEvent("delete", key, revision)


def _sse_events(response: Any, endpoint: str) -> Iterator[Tuple[str, str]]:
    """(event, data) pairs from a text/event-stream, read line by line; raises a retryable error when it breaks."""
    name = ""
    data: List[str] = []
    while True:
        try:
            raw = response.readline()
        except (socket.timeout, TimeoutError) as error:
            raise NagentError(f"config watch from {endpoint}: nothing received in time", status=0, code="idle_timeout", endpoint=endpoint) from error
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise NagentError(f"config watch from {endpoint} broke: {error}", status=0, code="disconnected", endpoint=endpoint) from error
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield name or "message", "\n".join(data)
            name, data = "", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)


def _transient(error: NagentError) -> bool:
    return error.status == 0 or error.status >= 500 or error.status in (408, 429)


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""
    finally:
        error.close()


def _unavailable(url: str, error: BaseException) -> SidecarUnavailableError:
    reason = getattr(error, "reason", None) or error
    if isinstance(reason, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(reason, (socket.timeout, TimeoutError)):
        text = "no answer in time"
    else:
        text = str(reason)
    return SidecarUnavailableError(f"the sidecar at {url} did not answer ({text})", status=0, code="unavailable", endpoint=url)
