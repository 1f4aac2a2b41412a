"""Timestamps: one fixed-width UTC format, so string order is time order in every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.errors import BadRequest

TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> str:
    """Now, as a stored timestamp."""
    return datetime.now(UTC).strftime(TS_FORMAT)


def format_ts(value: datetime) -> str:
    """A datetime as a stored timestamp (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(TS_FORMAT)


def parse_ts(value: str) -> datetime:
    """A stored timestamp back into an aware datetime."""
    return datetime.strptime(value, TS_FORMAT).replace(tzinfo=UTC)


def plus_seconds(ts: str, seconds: float) -> str:
    """``ts`` moved by ``seconds``."""
    return format_ts(parse_ts(ts) + timedelta(seconds=seconds))


def parse_query_time(raw: str | None, what: str) -> str | None:
    """A caller's ISO 8601 time (``since``/``until``) as a stored timestamp; 400 if invalid."""
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        # Converting to UTC can leave datetime's range (year 1 east of UTC, 9999 west of it).
        return format_ts(datetime.fromisoformat(text))
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"{what} must be an ISO 8601 timestamp") from exc
