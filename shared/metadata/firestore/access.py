"""Firestore plumbing for the metadata store: ``FirestoreAccess``, ``edge``, ``Lost``.

One place decides how the backend talks to Firestore: explicit retry policies and timeouts
on every call (reads retry transient errors; commits retry only an unreachable server),
optimistic commits (``commit`` + ``optimistic``), paged scans with checks Firestore cannot
do, and the translation of Google API errors into the service's errors (``edge``).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.auth import exceptions as auth_exc
from google.cloud import firestore

from shared.errors import BackendUnavailable, ConfigError
from shared.metadata.firestore.query import Query

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_UNAVAILABLE = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError,
                gexc.InternalServerError, gexc.ResourceExhausted, gexc.Unknown,
                gexc.Cancelled, gexc.Aborted, auth_exc.TransportError, auth_exc.RefreshError)
_PRECONDITION = (gexc.FailedPrecondition, gexc.AlreadyExists)
_TRANSIENT_READ = (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.DeadlineExceeded)


class Lost(Exception):
    """A precondition failed: another writer got there first; read again and retry."""


def edge(method: Callable[P, T]) -> Callable[P, T]:
    """Translate Google API errors into the service's errors (the backend's edge)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise BackendUnavailable("metadata store unavailable") from exc
        except (gexc.PermissionDenied, gexc.Unauthenticated) as exc:
            log.error("Firestore refused the service's credentials: %s", exc.message)
            raise ConfigError("the metadata store refused this service's credentials") from exc
        except gexc.FailedPrecondition as exc:  # a query whose composite index is missing
            log.error("Firestore query failed: %s", exc.message)
            raise ConfigError("the metadata store is missing a Firestore index") from exc

    return wrapper


class FirestoreAccess:
    """A Firestore client with this service's retry policy and commit discipline."""

    def __init__(self, project: str, client: Any | None, deadline: float) -> None:
        self.deadline = deadline
        try:
            self.db = client or firestore.Client(project=project)
        except auth_exc.DefaultCredentialsError as exc:
            raise ConfigError("no Google credentials for Firestore "
                              "(set FIRESTORE_EMULATOR_HOST to use the emulator)") from exc
        self.read = {"timeout": deadline, "retry": Retry(
            predicate=if_exception_type(*_TRANSIENT_READ), initial=0.05, maximum=1.0,
            timeout=deadline)}
        # Commits retry only when the server was unreachable (Google's default does too);
        # a reply lost after the commit landed is recognised by ``commit``'s marker.
        self.write = {"timeout": deadline, "retry": Retry(
            predicate=if_exception_type(gexc.ServiceUnavailable), initial=0.05, maximum=1.0,
            timeout=deadline)}

    def snap(self, ref: Any) -> Any:
        """A document snapshot (``.exists`` false when absent)."""
        return ref.get(**self.read)

    def get(self, ref: Any) -> dict[str, Any] | None:
        """A document's fields, or None when it does not exist."""
        return self.snap(ref).to_dict()

    def stream(self, query: Any) -> list[Any]:
        """Every snapshot a built query returns."""
        return list(query.stream(**self.read))

    def count(self, query: Query) -> int:
        """An aggregation count of the query's rows."""
        return int(query.build().count().get(**self.read)[0][0].value)

    def if_unchanged(self, snap: Any) -> Any:
        """The precondition ``snap``'s document still is as it was read."""
        return self.db.write_option(last_update_time=snap.update_time)

    def commit(self, batch: Any, marker: Any | None = None) -> None:
        """Commit atomically; ``Lost`` when a precondition failed.

        ``marker`` is a document the batch creates with a unique id (a log entry): if it
        exists after a failed precondition, this very commit landed and only its reply
        was lost (a retried commit), so the write is not repeated.
        """
        try:
            batch.commit(**self.write)
        except _PRECONDITION as exc:
            if marker is None or not self.snap(marker).exists:
                raise Lost() from exc

    def optimistic(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it is not ``Lost`` (jittered exponential pauses)."""
        pause, give_up = 0.01, time.monotonic() + 3 * self.deadline
        while time.monotonic() < give_up:
            try:
                return attempt()
            except Lost:
                time.sleep(random.uniform(0, pause))
                pause = min(pause * 2, 0.5)
        raise BackendUnavailable("metadata store is busy; try again")

    def scan(self, query: Query, accept: Callable[[dict[str, Any]], bool], want: int,
             after: dict[str, Any] | None, chunk: int, select: list[str] | None = None
             ) -> list[dict[str, Any]]:
        """Up to ``want`` rows that ``accept`` passes, reading ``chunk`` rows at a time.

        ``after`` holds the order fields' values to start after (a page cursor).
        """
        orders = [f for f, _ in query.shape().orders]
        out: list[dict[str, Any]] = []
        while len(out) < want:
            page = [s.to_dict() for s in self.stream(query.build(after, chunk, select))]
            out += [row for row in page if accept(row)][: want - len(out)]
            if len(page) < chunk:
                break
            after = {f: page[-1][f] for f in orders}
        return out

    def ping(self) -> bool:
        """True when Firestore answers one read within a short timeout, without retries."""
        try:
            self.db.collection("health").document("ping").get(
                retry=None, timeout=min(self.deadline, 5.0))
        except (gexc.GoogleAPIError, auth_exc.GoogleAuthError, OSError) as exc:
            log.warning("Firestore ping failed: %s", type(exc).__name__)
            return False
        return True
