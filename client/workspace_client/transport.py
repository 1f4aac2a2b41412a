"""``Transport``: one HTTP session onto one workspace service, with auth, retries and errors.

Every request of the client goes through ``Transport.request``. It adds the bearer token and
the attribution headers, applies the one ``RetryPolicy``, and turns any error answer into the
typed exception of ``workspace_client.errors``. Bodies are passed as a factory (``body``), so
a retried request sends a fresh stream from the start instead of a half-read one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Callable

import requests

from workspace_client.errors import (
    ConnectionFailed,
    RateLimited,
    Unavailable,
    WorkspaceError,
    error_from_answer,
    parse_retry_after,
)
from workspace_client.retry import RetryPolicy

API_PREFIX = "/api/assistant/workspace"
USER_AGENT = "workspace-client/0.1"
#: (connect, read) timeouts in seconds; a read timeout is the longest silence, not a deadline.
DEFAULT_TIMEOUT = (10.0, 300.0)

Params = Mapping[str, Any]


def split_url(url: str) -> str:
    """The server root from either the root (``http://h:8080``) or the API base URL."""
    root = url.strip().rstrip("/")
    if root.endswith(API_PREFIX):
        root = root[: -len(API_PREFIX)]
    if not root.startswith(("http://", "https://")):
        raise ValueError(f"the workspace URL must start with http:// or https://: {url!r}")
    return root


def query_params(params: Params | None) -> list[tuple[str, str]]:
    """Query pairs: ``None`` dropped, booleans as ``true``/``false``, lists repeated."""
    out: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is None:
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            out.append((key, text))
    return out


class Transport:
    """Authenticated, retried HTTP to one service; ``api(path)`` is under the API prefix."""

    def __init__(self, url: str, token: str | None, *, agent_id: str | None = None,
                 task_id: str | None = None, session_id: str | None = None,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None,
                 session: requests.Session | None = None) -> None:
        self.root = split_url(url)
        self.token = token
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.headers: dict[str, str] = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        for name, value in (("X-Agent-Id", agent_id), ("X-Task-Id", task_id),
                            ("X-Session-Id", session_id)):
            if value:
                self.headers[name] = value

    def api(self, path: str) -> str:
        """The absolute URL of an API path (``/files`` is under ``/api/assistant/workspace``)."""
        return f"{self.root}{API_PREFIX}{path}"

    def request(self, method: str, url: str, *, params: Params | None = None,
                json: Any = None, body: Callable[[], Any] | None = None,
                headers: Mapping[str, str] | None = None, auth: bool = True,
                stream: bool = False, retry: RetryPolicy | None = None) -> requests.Response:
        """Send, retrying what is safe to retry; a 2xx or 3xx answer, else a typed error.

        ``auth=False`` sends neither the token nor the attribution headers (signed URLs).
        Redirects are never followed here: a caller that wants one must decide whom to send
        the token to.
        """
        policy = retry or self.retry
        sent = dict(self.headers) if auth else {"User-Agent": USER_AGENT}
        if auth and self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        sent.update(headers or {})
        safe = policy.may_retry(method, sent)
        attempt = 0
        while True:
            try:
                answer = self.session.request(
                    method, url, params=query_params(params), json=json,
                    data=body() if body is not None else None, headers=sent,
                    timeout=self.timeout, stream=stream, allow_redirects=False)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if safe and attempt + 1 < policy.attempts:
                    time.sleep(policy.delay(attempt))
                    attempt += 1
                    continue
                raise ConnectionFailed(f"cannot reach {self.root}: {exc}") from exc
            if answer.status_code < 400:
                return answer
            wait = parse_retry_after(answer.headers.get("Retry-After"))
            if (answer.status_code in policy.statuses and safe
                    and attempt + 1 < policy.attempts
                    and (wait is None or wait <= policy.max_retry_after)):
                answer.close()
                time.sleep(policy.delay(attempt, wait))
                attempt += 1
                continue
            raise self.error(answer)

    @staticmethod
    def error(answer: requests.Response) -> WorkspaceError:
        """The typed error for an error answer (its body is read and the answer closed)."""
        try:
            body: Any = answer.json()
        except ValueError:
            body = None
        finally:
            answer.close()
        error = error_from_answer(answer.status_code, body, answer.headers)
        if body is None and not isinstance(error, (RateLimited, Unavailable)):
            error.message = f"HTTP {answer.status_code} from {answer.url.split('?')[0]}"
            error.args = (error.message,)
        return error

    def json(self, method: str, path: str, *, params: Params | None = None, json: Any = None,
             headers: Mapping[str, str] | None = None) -> Any:
        """An API call whose answer is JSON (``path`` is under the API prefix)."""
        answer = self.request(method, self.api(path), params=params, json=json, headers=headers)
        return answer.json() if answer.content else None
