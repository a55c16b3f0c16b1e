"""A small reference client for the Tidepool events API.

It shows the retry policy every Tidepool client should follow: retry 429
and 503 answers and dropped connections up to 5 attempts in total, waiting
0.2 s before the second attempt and doubling the wait each time, never more
than 10 s, with random jitter of up to 20% so that clients do not retry in
lockstep. A Retry-After header, when present, wins over the computed wait.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request

BASE_URL = "https://api.tidepool.example/v2"
MAX_ATTEMPTS = 5
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 10.0
RETRY_STATUSES = frozenset({429, 503})


class TidepoolError(Exception):
    """The API refused a request, or it kept failing after every retry."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt number ``attempt + 1`` (attempts count from 1)."""
    if retry_after is not None:
        return retry_after
    delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (attempt - 1))
    return delay * random.uniform(0.8, 1.2)


class Client:
    """Sends events to Tidepool with one API key."""

    def __init__(self, api_key: str, *, base_url: str = BASE_URL) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")

    def send_events(self, events: list[dict[str, object]]) -> str:
        """Send up to 1,000 events; return the batch id."""
        body = json.dumps({"events": events}).encode("utf-8")
        reply = self._post("/events", body)
        return str(reply["batch_id"])

    def _post(self, path: str, body: bytes) -> dict[str, object]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request = urllib.request.Request(
                self.base_url + path,
                data=body,
                method="POST",
                headers={
                    "Authorization": f"Bearer {self.api_key}",
                    "Content-Type": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRY_STATUSES or attempt == MAX_ATTEMPTS:
                    error = json.loads(exc.read() or b"{}")
                    raise TidepoolError(
                        exc.code, error.get("code", ""), error.get("message", "")
                    ) from exc
                retry_after = exc.headers.get("Retry-After")
                time.sleep(backoff_delay(attempt, float(retry_after) if retry_after else None))
            except urllib.error.URLError:
                if attempt == MAX_ATTEMPTS:
                    raise
                time.sleep(backoff_delay(attempt))
        raise AssertionError("unreachable: the loop returns or raises")
