"""Talk to Rasa's REST channel (``POST /webhooks/rest/webhook``) with httpx."""

from __future__ import annotations

import logging
from typing import Any

import httpx

logger = logging.getLogger(__name__)
REST_PATH = "/webhooks/rest/webhook"
PAUSE_PATH = "/webhooks/rest/pause"
RESUME_PATH = "/webhooks/rest/resume"


class RasaUnavailable(RuntimeError):
    """Rasa could not be reached, was too slow, or answered with something unusable."""


class RasaClient:
    """One shared async HTTP client for every chat."""

    def __init__(self, base_url: str, timeout: float = 8.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(2.0, timeout)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    async def send(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send the dad's message; return Rasa's replies (dicts with text, buttons, ...)."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        try:
            response = await self._client.post(REST_PATH, json=body)
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"Rasa did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        try:
            replies = response.json()
        except ValueError as exc:
            raise RasaUnavailable("Rasa answered with something that is not JSON") from exc
        if not isinstance(replies, list):
            raise RasaUnavailable("Rasa answered with something that is not a list")
        return [r for r in replies if isinstance(r, dict)]

    async def set_paused(self, sender: str, paused: bool) -> bool:
        """Pause (live chat with a person) or resume a conversation; True when Rasa agreed.

        Never raises: a live chat must go on even if Rasa is down (the front end does not send
        it the dad's messages meanwhile); the failure is logged.
        """
        path = PAUSE_PATH if paused else RESUME_PATH
        try:
            response = await self._client.post(path, json={"sender": sender})
        except httpx.HTTPError as exc:
            logger.warning("Could not %s a conversation: %s", path[-6:], type(exc).__name__)
            return False
        if response.status_code != 200:
            logger.warning("Rasa answered HTTP %d to %s", response.status_code, path)
            return False
        return True

    async def close(self) -> None:
        await self._client.aclose()
