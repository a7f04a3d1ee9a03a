"""Bounded retries of Hub calls: 429 and 5xx (and dropped connections) are retried with
exponential backoff and jitter, honouring ``Retry-After`` and the ``RateLimit`` reset; 401/403
stop at once with a message that says what to check. Messages never carry the token.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from httpx2 import TransportError
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import parse_ratelimit_headers

from cxrhub.shards.errors import HubAuthError, HubError

__all__ = ["AUTH_STATUS", "MAX_TRIES", "TRANSIENT_STATUS", "HubCaller"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
AUTH_STATUS = frozenset({401, 403})
MAX_TRIES = 6  # first try plus five retries
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 120.0
RETRY_AFTER_MAX_S = 3600.0  # the hourly commit quota: a longer wait means "come back later"
_REDACTED = "hf_***"


class HubCaller:
    """Runs Hub calls for one repo with the retry policy; ``sleep`` and ``rng`` are injectable.

    Args:
        repo_id: named in every message.
        secrets: strings never to show (the token); replaced in every message this class makes.
    """

    def __init__(
        self,
        repo_id: str,
        *,
        secrets: tuple[str, ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_tries: int = MAX_TRIES,
    ):
        self.repo_id = repo_id
        self._secrets = tuple(s for s in secrets if s)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.max_tries = max_tries

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()``, retried on transient failures; ``what`` names the step in messages.

        Raises:
            HubAuthError: 401 or 403 (not retried).
            HubError: any other HTTP error, or transient failures past ``max_tries``.
        """
        for attempt in range(1, self.max_tries + 1):
            try:
                return fn()
            except HfHubHTTPError as exc:
                delay, reason = self._classify(what, exc, attempt)
            except TransportError as exc:
                delay, reason = _backoff(attempt, self._rng), type(exc).__name__
            if attempt == self.max_tries:
                break
            logger.warning(
                "%s: %s; retry %d/%d in %.1f s",
                what,
                self.redact(reason),
                attempt,
                self.max_tries - 1,
                delay,
            )
            self._sleep(delay)
        raise HubError(
            f"{self.repo_id}: {what} failed {self.max_tries} times ({self.redact(reason)}); "
            "rerun the same command later: it sends only what is missing"
        )

    def _classify(self, what: str, exc: HfHubHTTPError, attempt: int) -> tuple[float, str]:
        status = _status(exc)
        detail = self.redact(_detail(exc))
        if status in AUTH_STATUS:
            raise HubAuthError(
                f"{self.repo_id}: the Hub refused {what} (HTTP {status}: {detail}). Check that "
                "your token (HF_TOKEN or `hf auth login`) has write access, and for an "
                "organisation repo that your account is a member allowed to write to it. "
                "Nothing more was sent."
            ) from None
        if status not in TRANSIENT_STATUS:
            raise HubError(f"{self.repo_id}: {what} failed (HTTP {status}: {detail})") from None
        wait = _retry_after(exc)
        if wait is not None and wait > RETRY_AFTER_MAX_S:
            raise HubError(
                f"{self.repo_id}: {what} rate limited for {wait:.0f} s (HTTP {status}); "
                "rerun the same command later: it sends only what is missing"
            ) from None
        delay = _backoff(attempt, self._rng) if wait is None else wait + self._rng.uniform(0, 1)
        return delay, f"HTTP {status}: {detail}"


def _status(exc: HfHubHTTPError) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _detail(exc: HfHubHTTPError) -> str:
    return (getattr(exc, "server_message", None) or str(exc)).strip().splitlines()[0][:300]


def _backoff(attempt: int, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [base, base * 2**(attempt - 1)], capped."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return rng.uniform(min(BACKOFF_BASE_S, ceiling), ceiling)


def _retry_after(exc: HfHubHTTPError) -> float | None:
    """Seconds the server asked to wait: ``RateLimit`` reset (when exhausted) or ``Retry-After``
    (delay-seconds or an HTTP date)."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    limit = parse_ratelimit_headers(headers)
    if limit is not None and limit.remaining == 0:
        return float(limit.reset_in_seconds)
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
