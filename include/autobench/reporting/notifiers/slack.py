"""Slack through its Web API (slack-sdk's ``WebClient``): a message, then its files in its thread.

:meth:`SlackNotifier.render` is the message as Block Kit (:mod:`.blocks`: every plain span
escaped for mrkdwn). :meth:`~SlackNotifier.post` checks the message (Block Kit limits, files
present) and posts it with ``chat.postMessage``; :meth:`~SlackNotifier.upload` sends one file with
``files_upload_v2`` (``files.getUploadURLExternal``, a POST of the bytes to the upload URL,
``files.completeUploadExternal``) into the message's channel and thread. Callers use
:meth:`~autobench.reporting.notifiers.base.Notifier.send`, which resumes an interrupted delivery.
``api_url`` points the client somewhere other than ``https://slack.com/api/`` (a proxy, or a
fake Slack in tests); it must end with ``/``.

The token is a credential: it is never logged and never appears in an error. slack-sdk logs
through the logger :data:`SDK_LOGGER`, which is set to INFO unless someone chose a level (the
SDK's DEBUG lines dump requests and responses) and carries a filter that replaces every token
this process has used with ``[redacted]``, whatever the level. Errors are
:class:`~autobench.reporting.notifiers.base.NotifyError` with one line: the API method and Slack's error
code (``channel_not_found``), or why the server could not be reached.
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError

from autobench.reporting.notifiers import blocks
from autobench.reporting.notifiers.base import Notifier, NotifyError
from autobench.reporting.notifiers.message import Message

TOKEN_ENV = "AUTOBENCH_SLACK_TOKEN"
CHANNEL_ENV = "AUTOBENCH_SLACK_CHANNEL"
API_URL_ENV = "AUTOBENCH_SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"
SDK_LOGGER = "autobench.reporting.notifiers.slack.sdk"
REDACTED = "[redacted]"

log = logging.getLogger(__name__)


class _Redact(logging.Filter):
    """Replaces every registered secret in a record's message (and its formatted traceback)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        with self._lock:
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


_REDACT = _Redact()


def sdk_logger(token: str) -> logging.Logger:
    """The logger handed to slack-sdk: redacts ``token`` (and any token used before)."""
    logger = logging.getLogger(SDK_LOGGER)
    _REDACT.add(token)
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)  # the SDK's DEBUG lines dump whole requests and responses
    return logger


def _base_url(api_url: str | None) -> str:
    url = (api_url or DEFAULT_API_URL).strip()
    if not url.startswith(("http://", "https://")):
        raise NotifyError(f"slack: api_url must be an http(s):// URL (got {url!r})")
    return url if url.endswith("/") else url + "/"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackNotifier(Notifier):
    """Posts to one Slack channel with a bot token (``xoxb-…``, scopes chat:write and files:write)."""

    name = "slack"

    def __init__(self, token: str, channel: str, api_url: str | None = None, *, timeout: float = 30.0):
        if not isinstance(token, str) or not token.strip():
            raise NotifyError(f"slack: no bot token (set {TOKEN_ENV})")
        if not isinstance(channel, str) or not channel.strip():
            raise NotifyError(f"slack: no channel (set {CHANNEL_ENV}, e.g. #autobench or C0123456789)")
        self._token = token.strip()
        self.channel = channel.strip()
        self.api_url = _base_url(api_url)
        self.timeout = timeout
        _REDACT.add(self._token)

    def __repr__(self) -> str:  # never the token
        return f"SlackNotifier(channel={self.channel!r}, api_url={self.api_url!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SlackNotifier:
        """Built from ``AUTOBENCH_SLACK_TOKEN``, ``AUTOBENCH_SLACK_CHANNEL`` and, optionally,
        ``AUTOBENCH_SLACK_API_URL``; a missing variable is named in the error."""
        env = os.environ if environ is None else environ
        missing = [var for var in (TOKEN_ENV, CHANNEL_ENV) if not (env.get(var) or "").strip()]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise NotifyError(f"slack: {' and '.join(missing)} {verb} not set "
                              f"({TOKEN_ENV}: the bot token; {CHANNEL_ENV}: e.g. #autobench)")
        return cls(env[TOKEN_ENV], env[CHANNEL_ENV], (env.get(API_URL_ENV) or "").strip() or None)

    def _client(self):
        from slack_sdk import WebClient

        return WebClient(token=self._token, base_url=self.api_url, timeout=int(self.timeout),
                         logger=sdk_logger(self._token))

    def _call(self, method: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """One Web API call; every failure becomes a one-line :class:`NotifyError` without the token."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            return fn(**kwargs)
        except SlackApiError as exc:
            response = exc.response
            data = getattr(response, "data", None)
            error = data.get("error") if isinstance(data, Mapping) else None
            status = getattr(response, "status_code", None)
            detail = ""
            if isinstance(data, Mapping):
                messages = (data.get("response_metadata") or {}).get("messages") or []
                if messages:
                    detail = f": {messages[0]}"
            what = error or f"HTTP {status}"
            message = f"slack {method}: {what}{detail} (channel {self.channel})"
        except HTTPError as exc:  # an HTTP error status where slack-sdk does not read the body (uploads)
            message = f"slack {method}: HTTP {exc.code} {exc.reason}"
        except (SlackClientError, URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            message = f"slack {method}: cannot reach {self.api_url}: {type(exc).__name__}: {reason}"
        raise NotifyError(_REDACT.scrub(_one_line(message)).replace(self._token, REDACTED))

    def render(self, message: Message) -> dict[str, Any]:
        """``chat.postMessage``'s text (the escaped fallback) and Block Kit blocks."""
        return {"text": blocks.fallback(message), "blocks": blocks.render(message)}

    def problems(self, message: Message) -> list[str]:
        """The message's own problems, and every Block Kit limit its rendering breaks."""
        return super().problems(message) + blocks.validate_blocks(blocks.render(message))

    def post(self, message: Message) -> dict[str, Any]:
        """Check the whole message (its files too), post its text and blocks, upload nothing;
        ``{"ts", "channel"}``."""
        self.check(message)
        rendered = self.render(message)
        client = self._client()
        posted = self._call("chat.postMessage", client.chat_postMessage, channel=self.channel, text=rendered["text"],
                            blocks=rendered["blocks"] or None, thread_ts=message.thread)
        ts, channel_id = posted.get("ts"), posted.get("channel") or self.channel
        log.info("slack: posted to %s (ts %s)", channel_id, ts)
        return {"ts": ts, "channel": channel_id}

    def upload(self, path: Path, *, channel: str, thread: str) -> dict[str, Any]:
        """Upload one file into ``thread`` (a message's ts) in ``channel``; ``{"id", "name", "title"}``."""
        path = Path(path)
        if not path.is_file():
            raise NotifyError(f"{self.name}: message refused: files: {path}: no such file")
        client = self._client()
        uploaded = self._call("files_upload_v2", client.files_upload_v2, channel=channel, file=str(path),
                              filename=path.name, title=path.name, thread_ts=thread)
        info = uploaded.get("file") or next(iter(uploaded.get("files") or []), {}) or {}
        log.info("slack: uploaded %s to %s (thread %s)", path.name, channel, thread)
        return {"id": info.get("id"), "name": path.name, "title": info.get("title") or path.name}
