"""Notifiers against a fake Slack Web API on loopback: what arrives, and what never leaks.

Messages are neutral (:mod:`autobench.reporting.notifiers.message`); the Slack notifier renders
them as Block Kit. The fake implements what slack-sdk's ``chat_postMessage`` and ``files_upload_v2`` call
(``chat.postMessage``, ``files.getUploadURLExternal``, a POST of the bytes to the upload URL it
handed out, ``files.completeUploadExternal``) and records every request.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import zlib
from pathlib import Path

import pytest

from autobench.errors import AutobenchError
from autobench.reporting.notifiers import (
    REGISTRY,
    Context,
    Divider,
    Emoji,
    Header,
    Message,
    Notifier,
    NotifyError,
    Section,
    Strong,
    get,
    names,
    validate_blocks,
)
from autobench.reporting.notifiers import blocks as block_kit
from autobench.reporting.notifiers.record import RecordNotifier
from autobench.reporting.notifiers.slack import SDK_LOGGER, SlackNotifier
from demo.fake_slack import CHANNEL_ID, FakeSlack

TOKEN = "xoxb-000000000000-1111111111111-TopSecretTokenValue42"


# ----------------------------------------------------------------------------- the fake Slack


@pytest.fixture
def fake_slack(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)  # slack-sdk would send loopback traffic through a proxy
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def debug_logs(caplog):
    """Every log record at DEBUG, the SDK's own logger included (its default is INFO)."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=SDK_LOGGER)
    return caplog


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def pngs(tmp_path) -> list[Path]:
    paths = []
    for name, colour in (("gap_over_time.png", (200, 30, 30)), ("latest_experiment.png", (30, 30, 200))):
        p = tmp_path / name
        p.write_bytes(png_bytes(8, 4, colour))
        paths.append(p)
    return paths


def digest_message(files: list[Path] | None = None, competitor: str = "<!channel> <script>x</script>") -> Message:
    """A digest-shaped neutral message; ``competitor`` is web text, handed over unescaped."""
    blocks = [
        Header("Benchmark Digest — Week of 2026-01-05"),
        Section([(Strong("MemoryBench"), ": #3 ", Emoji("warning"))], title="Competitive Position"),
        Section([f"New entrant {competitor} at 0.855"], title="What Changed This Week"),
        Divider(),
        Context("autobench · run scheduled__2026-01-05"),
    ]
    return Message(text=f"Benchmark digest: new entrant {competitor}", blocks=blocks, files=files or [])


DIGEST_BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Benchmark Digest — Week of 2026-01-05"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Competitive Position*\n• *MemoryBench*: #3 :warning:"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*What Changed This Week*\n"
                                 "• New entrant &lt;!channel&gt; &lt;script&gt;x&lt;/script&gt; at 0.855"}},
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "autobench · run scheduled__2026-01-05"}]},
]


def assert_no_token(caplog, *texts: str) -> None:
    for record in caplog.records:
        assert TOKEN not in record.getMessage(), record.getMessage()
        assert TOKEN not in (record.exc_text or "")
    assert TOKEN not in caplog.text
    for text in texts:
        assert TOKEN not in text


# ----------------------------------------------------------------------------- Slack: success


def test_send_posts_the_message_then_both_pngs_into_its_thread(fake_slack, pngs, debug_logs):
    notifier = SlackNotifier(TOKEN, "#autobench", fake_slack.url)
    result = notifier.send(digest_message(pngs))

    assert result["ok"] is True and result["channel"] == CHANNEL_ID and result["ts"].startswith("1767772800.")
    assert [f["name"] for f in result["files"]] == ["gap_over_time.png", "latest_experiment.png"]
    assert all(f["id"].startswith("F") for f in result["files"])

    # the calls files_upload_v2 makes, in order, once per file after the message
    order = [r["path"].split("/")[-1] if r["path"].startswith("/api/") else "upload" for r in fake_slack.requests]
    assert order == ["chat.postMessage"] + ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"] * 2

    # every Web API call carries the token as a bearer token (the upload URL needs none)
    for r in fake_slack.requests:
        if r["path"].startswith("/api/"):
            assert r["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in r["raw"].decode("latin-1")  # never in a body or a URL

    post = fake_slack.calls("chat.postMessage")[0]["body"]
    assert post["channel"] == "#autobench"
    assert validate_blocks(post["blocks"]) == []
    assert post["blocks"] == DIGEST_BLOCKS  # the neutral message as Block Kit, web text escaped
    received = post["text"] + json.dumps(post["blocks"], ensure_ascii=False)
    assert "&lt;!channel&gt;" in received and "&lt;script&gt;" in received
    assert "<!channel>" not in received and "<script>" not in received

    # both PNGs arrived whole, and went to the message's channel and thread
    uploaded = [fake_slack.uploads[f["id"]] for f in result["files"]]
    assert uploaded == [p.read_bytes() for p in pngs]
    assert all(u.startswith(b"\x89PNG\r\n\x1a\n") for u in uploaded)
    asks = [c["body"] for c in fake_slack.calls("files.getUploadURLExternal")]
    assert [(a["filename"], int(a["length"])) for a in asks] == [(p.name, p.stat().st_size) for p in pngs]
    for done in fake_slack.calls("files.completeUploadExternal"):
        assert done["body"]["channel_id"] == CHANNEL_ID and done["body"]["thread_ts"] == result["ts"]

    assert any(r.name == SDK_LOGGER and r.levelno == logging.DEBUG for r in debug_logs.records)  # DEBUG was on
    assert_no_token(debug_logs, repr(notifier), str(result))


def test_a_reply_goes_into_the_given_thread(fake_slack, pngs):
    result = SlackNotifier(TOKEN, CHANNEL_ID, fake_slack.url).send(
        Message(text="follow-up", blocks=[], files=pngs[:1], thread="1767772800.000001"))
    post = fake_slack.calls("chat.postMessage")[0]["body"]
    assert post["thread_ts"] == "1767772800.000001" and "blocks" not in post  # no blocks: text only
    done = fake_slack.calls("files.completeUploadExternal")[0]["body"]
    assert done["thread_ts"] == "1767772800.000001" and len(result["files"]) == 1


def test_default_logging_keeps_the_sdk_quiet_and_the_token_out(fake_slack, pngs, caplog):
    logging.getLogger(SDK_LOGGER).setLevel(logging.NOTSET)  # as in a fresh process
    caplog.set_level(logging.DEBUG)  # root at DEBUG, as a verbose Airflow task log might be
    notifier = SlackNotifier(TOKEN, "#autobench", fake_slack.url)
    notifier.send(digest_message(pngs))
    assert logging.getLogger(SDK_LOGGER).level == logging.INFO
    assert not [r for r in caplog.records if r.name == SDK_LOGGER and r.levelno < logging.INFO]
    assert any("posted to" in r.getMessage() for r in caplog.records)
    assert_no_token(caplog)


def test_a_token_echoed_by_the_server_is_redacted_from_logs_and_errors(fake_slack, debug_logs):
    fake_slack.errors["chat.postMessage"] = {"ok": False, "error": "invalid_auth", "warning": f"token {TOKEN} revoked",
                                             "response_metadata": {"messages": [f"[ERROR] bad token {TOKEN}"]}}
    with pytest.raises(NotifyError) as info:
        SlackNotifier(TOKEN, "#autobench", fake_slack.url).send(digest_message())
    message = str(info.value)
    assert "invalid_auth" in message and "[redacted]" in message
    assert info.value.__cause__ is None and info.value.__context__ is None  # no chained SlackApiError
    assert "[redacted]" in debug_logs.text  # the SDK logged the response body, with the token replaced
    assert_no_token(debug_logs, message)


# ----------------------------------------------------------------------------- Slack: failures


def test_a_slack_error_answer_becomes_one_autobench_error(fake_slack, pngs, debug_logs):
    fake_slack.errors["chat.postMessage"] = {"ok": False, "error": "channel_not_found"}
    with pytest.raises(AutobenchError) as info:
        SlackNotifier(TOKEN, "#nowhere", fake_slack.url).send(digest_message(pngs))
    message = str(info.value)
    assert isinstance(info.value, NotifyError)
    assert "channel_not_found" in message and "chat.postMessage" in message and "#nowhere" in message
    assert "\n" not in message
    assert fake_slack.calls("files.getUploadURLExternal") == []  # nothing uploaded after a failed post
    assert_no_token(debug_logs, message)


def test_a_failed_upload_says_the_message_was_posted(fake_slack, pngs, debug_logs):
    fake_slack.errors["files.completeUploadExternal"] = {"ok": False, "error": "not_in_channel"}
    with pytest.raises(NotifyError) as info:
        SlackNotifier(TOKEN, "#autobench", fake_slack.url).send(digest_message(pngs))
    message = str(info.value)
    assert "not_in_channel" in message and "the message was posted" in message and "gap_over_time.png" in message
    assert "\n" not in message
    assert_no_token(debug_logs, message)


def test_post_and_upload_are_send_in_two_halves(fake_slack, pngs, tmp_path, debug_logs):
    """What a caller uses to record the message's ts before the files (a retry then uploads only
    what is missing instead of posting again)."""
    notifier = SlackNotifier(TOKEN, "#autobench", fake_slack.url)
    with pytest.raises(NotifyError, match="absent.png: no such file"):  # the whole message is checked first
        notifier.post(digest_message([*pngs, tmp_path / "absent.png"]))
    assert fake_slack.requests == []
    posted = notifier.post(digest_message(pngs))
    assert posted["channel"] == CHANNEL_ID and posted["ts"]
    assert [r["path"] for r in fake_slack.requests] == ["/api/chat.postMessage"]  # nothing uploaded yet
    fake_slack.errors["files.completeUploadExternal"] = {"ok": False, "error": "not_in_channel"}
    with pytest.raises(NotifyError, match="files_upload_v2: not_in_channel"):
        notifier.upload(pngs[1], channel=posted["channel"], thread=posted["ts"])
    del fake_slack.errors["files.completeUploadExternal"]
    info = notifier.upload(pngs[1], channel=posted["channel"], thread=posted["ts"])
    assert info["name"] == "latest_experiment.png" and fake_slack.uploads[info["id"]] == pngs[1].read_bytes()
    done = fake_slack.calls("files.completeUploadExternal")[-1]["body"]
    assert done["thread_ts"] == posted["ts"] and done["channel_id"] == CHANNEL_ID
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert_no_token(debug_logs, "")


def test_an_upload_url_refusing_the_bytes_is_an_error(fake_slack, pngs, debug_logs):
    fake_slack.upload_status = 500
    with pytest.raises(NotifyError) as info:
        SlackNotifier(TOKEN, "#autobench", fake_slack.url).send(digest_message(pngs))
    assert "files_upload_v2" in str(info.value) and "HTTP 500" in str(info.value) and "\n" not in str(info.value)
    assert_no_token(debug_logs, str(info.value))


def test_an_unreachable_server_is_an_error_without_the_token(debug_logs, monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AutobenchError) as info:
        SlackNotifier(TOKEN, "#autobench", f"http://127.0.0.1:{port}/api", timeout=2).send(digest_message())
    message = str(info.value)
    assert "cannot reach" in message and f"127.0.0.1:{port}/api/" in message and "\n" not in message
    assert_no_token(debug_logs, message)


def test_a_rendering_slack_would_refuse_is_refused_before_anything_is_sent(fake_slack, tmp_path):
    message = digest_message([tmp_path / "absent.png"])
    message.blocks += [Divider()] * 50  # 55 blocks: Slack takes at most 50
    with pytest.raises(NotifyError) as info:
        SlackNotifier(TOKEN, "#autobench", fake_slack.url).send(message)
    assert "55 blocks (at most 50 in one message)" in str(info.value) and "absent.png: no such file" in str(info.value)
    assert fake_slack.requests == []


def test_block_kit_rendering_escapes_plain_spans_and_stays_inside_the_limits():
    long_lines = [f"line {i} <@U{i}> & more" for i in range(400)]
    message = Message(text="t", blocks=[Header("H" * 200), Section(long_lines, title="Many <b>", cut="… (more)"),
                                        Section([], title="Empty", empty="nothing & none"),
                                        Section(["a"], tail="… and 3 more"),
                                        Context(("ctx ", Strong("x*y"), Emoji("tada")))])
    rendered = block_kit.render(message)
    assert validate_blocks(rendered) == []
    assert rendered[0]["text"]["text"] == "H" * 149 + "…"
    many = rendered[1]["text"]["text"]
    assert many.startswith("*Many &lt;b&gt;*\n• line 0 &lt;@U0&gt; &amp; more\n") and many.endswith("\n… (more)")
    assert len(many) <= 3000 and "<@U" not in many
    assert rendered[2]["text"]["text"] == "*Empty*\nnothing &amp; none"
    assert rendered[3]["text"]["text"] == "• a\n… and 3 more"
    assert rendered[4]["elements"][0]["text"] == "ctx *x*y*:tada:"  # spans join as given
    assert block_kit.fallback(Message(text="<!here> & co")) == "&lt;!here&gt; &amp; co"


def test_a_missing_file_is_refused_before_anything_is_sent(fake_slack, tmp_path):
    with pytest.raises(NotifyError, match="no such file"):
        SlackNotifier(TOKEN, "#autobench", fake_slack.url).send(digest_message([tmp_path / "absent.png"]))
    assert fake_slack.requests == []


def test_empty_text_is_refused(fake_slack):
    with pytest.raises(NotifyError, match="text: required"):
        SlackNotifier(TOKEN, "#autobench", fake_slack.url).send(Message(text="  ", blocks=[]))


# ----------------------------------------------------------------------------- configuration


def test_from_env_names_every_missing_variable():
    with pytest.raises(AutobenchError) as info:
        SlackNotifier.from_env({})
    assert "AUTOBENCH_SLACK_TOKEN and AUTOBENCH_SLACK_CHANNEL are not set" in str(info.value)
    with pytest.raises(AutobenchError) as info:
        SlackNotifier.from_env({"AUTOBENCH_SLACK_TOKEN": TOKEN})
    assert "AUTOBENCH_SLACK_CHANNEL is not set" in str(info.value) and TOKEN not in str(info.value)
    with pytest.raises(AutobenchError, match="AUTOBENCH_SLACK_TOKEN is not set"):
        SlackNotifier.from_env({"AUTOBENCH_SLACK_TOKEN": " ", "AUTOBENCH_SLACK_CHANNEL": "#a"})


def test_from_env_reads_the_api_url_and_sends_there(fake_slack, monkeypatch):
    monkeypatch.setenv("AUTOBENCH_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("AUTOBENCH_SLACK_CHANNEL", "#autobench")
    monkeypatch.setenv("AUTOBENCH_SLACK_API_URL", fake_slack.url.rstrip("/"))  # the slash is added
    notifier = get("slack")
    assert isinstance(notifier, SlackNotifier) and notifier.api_url == fake_slack.url
    assert notifier.send(Message(text="hello"))["ok"] is True
    monkeypatch.delenv("AUTOBENCH_SLACK_API_URL")
    assert SlackNotifier.from_env().api_url == "https://slack.com/api/"


def test_the_token_is_not_in_repr_and_a_bad_url_is_refused():
    notifier = SlackNotifier(TOKEN, "#autobench")
    assert TOKEN not in repr(notifier) and TOKEN not in str(vars(notifier).get("channel"))
    with pytest.raises(NotifyError, match="http"):
        SlackNotifier(TOKEN, "#autobench", "ftp://example.org/api/")
    with pytest.raises(NotifyError, match="AUTOBENCH_SLACK_TOKEN"):
        SlackNotifier("", "#autobench")


def test_get_builds_by_name_and_refuses_unknowns(tmp_path, monkeypatch):
    assert names() == REGISTRY.names() == ("slack", "record")
    assert isinstance(get("record", path=tmp_path / "m.jsonl"), RecordNotifier)
    slack = get("slack", token=TOKEN, channel="#a", api_url="http://127.0.0.1:1/api/")
    assert isinstance(slack, SlackNotifier) and isinstance(slack, Notifier)
    with pytest.raises(NotifyError, match="unknown notifier 'email' \\(choose from slack, record\\)"):
        get("email")
    with pytest.raises(NotifyError, match="unknown option 'webhook'"):
        get("slack", token=TOKEN, channel="#a", webhook="x")
    with pytest.raises(NotifyError, match=r"unknown option 'channel' for the record notifier \(options: path\)"):
        get("record", channel="#a")  # options given: the path is one of them
    monkeypatch.delenv("AUTOBENCH_RECORD_PATH", raising=False)
    with pytest.raises(NotifyError, match="record: AUTOBENCH_RECORD_PATH is not set"):
        get("record")  # by name alone: from the environment
    monkeypatch.setenv("AUTOBENCH_RECORD_PATH", str(tmp_path / "env.jsonl"))
    assert get("record").path == tmp_path / "env.jsonl"


# ----------------------------------------------------------------------------- the record notifier


def test_record_notifier_writes_jsonl_and_checks_like_slack(tmp_path, pngs):
    notifier = RecordNotifier(tmp_path / "out" / "messages.jsonl")
    first = notifier.send(digest_message(pngs))
    second = notifier.send(Message(text="second", thread=first["ts"]))
    assert (first["ts"], second["ts"]) == ("1", "4")  # the message, its two files, the reply
    assert [f["name"] for f in first["files"]] == ["gap_over_time.png", "latest_experiment.png"]
    recorded = notifier.messages()
    assert [r["type"] for r in recorded] == ["message", "file", "file", "message"]
    assert recorded[0]["blocks"] == digest_message().as_dict()["blocks"]  # the neutral form, as JSON
    assert recorded[0]["blocks"][1]["lines"] == [[{"strong": "MemoryBench"}, ": #3 ", {"emoji": "warning"}]]
    assert recorded[0]["files"] == ["gap_over_time.png", "latest_experiment.png"]
    assert [(r["thread"], r["name"]) for r in recorded[1:3]] == [("1", "gap_over_time.png"),
                                                                 ("1", "latest_experiment.png")]
    assert recorded[1]["bytes"] == pngs[0].stat().st_size and len(recorded[1]["sha256"]) == 64
    assert recorded[3]["thread"] == "1"
    too_many = Message(text="x", blocks=[Divider()] * 51)  # what Slack would refuse, a dry run refuses
    with pytest.raises(NotifyError, match="51 blocks"):
        notifier.send(too_many)
    assert len(notifier.messages()) == 4


# ----------------------------------------------------------------------------- Block Kit limits


def test_a_digest_shaped_message_is_valid():
    assert validate_blocks(block_kit.render(digest_message())) == []
    assert validate_blocks([]) == []
    image = {"type": "image", "image_url": "https://example.org/gap.png", "alt_text": "gap to #1",
             "title": {"type": "plain_text", "text": "Gap"}}
    actions = {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"},
                                                "url": "https://example.org"}]}
    assert validate_blocks([image, actions]) == []


@pytest.mark.parametrize(("blocks", "expected"), [
    ("not a list", "blocks: must be a list"),
    ([{"type": "divider"}] * 51, "51 blocks (at most 50"),
    ([{"type": "rich_text"}], "blocks[0].type: 'rich_text' is not one of"),
    (["divider"], "blocks[0]: must be an object"),
    ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "blocks[0].text.type: must be plain_text"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "151 characters (at most 150)"),
    ([{"type": "header"}], "blocks[0].text: must be a text object"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "3001 characters (at most 3000)"),
    ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "must be plain_text or mrkdwn"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "must not be empty"),
    ([{"type": "section"}], "a section needs `text` or `fields`"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "11 fields (at most 10)"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}], "fields[0].text: 2001 characters"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "11 elements (at most 10)"),
    ([{"type": "context", "elements": []}], "a context needs 1 to 10 elements"),
    ([{"type": "image", "image_url": "https://x/y.png"}], "alt_text: required"),
    ([{"type": "image", "alt_text": "a"}], "exactly one of image_url and slack_file"),
    ([{"type": "divider", "text": "x"}], "a divider takes no text"),
    ([{"type": "actions", "elements": []}], "an actions block needs 1 to 25"),
    ([{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}], "'a' already used by blocks[0]"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}}], "only plain_text takes `emoji`"),
])
def test_each_limit_is_named(blocks, expected):
    problems = validate_blocks(blocks)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_not_just_the_first():
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 200}},
              {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 12},
              {"type": "context", "elements": [{"type": "plain_text", "text": "c"}] * 12}]
    assert len(validate_blocks(blocks)) == 3


# ----------------------------------------------------------------------------- alerts


def test_alerts_take_the_send_path_and_escape_web_text(fake_slack):
    from autobench.reporting import alerts

    notifier = SlackNotifier(TOKEN, "#autobench", fake_slack.url)
    assert alerts.post(notifier, "autobench: leaderboards moved", []) is None  # nothing to say: nothing sent
    lines = [f"[ALERT] <!channel> #{i} improved on MemoryBench" for i in range(45)]
    sent = alerts.post(notifier, "autobench: leaderboards moved", lines, context="[STATUS] Our rank: #3 <b>")
    assert sent["ok"] is True and sent["files"] == [] and sent["channel"] == CHANNEL_ID
    body = fake_slack.calls("chat.postMessage")[0]["body"]
    header, section, context = body["blocks"]
    assert header["text"] == {"type": "plain_text", "text": "autobench: leaderboards moved"}
    items = section["text"]["text"].splitlines()
    assert (len(items) == 41 and items[0].startswith("• [ALERT] &lt;!channel&gt; #0 improved")
            and items[-1] == "… and 5 more")
    assert context["elements"][0]["text"] == "[STATUS] Our rank: #3 &lt;b&gt;"
    assert "<!channel>" not in body["text"] and body["text"].startswith(
        "autobench: leaderboards moved: [ALERT] &lt;!channel&gt;")
    alerts.post(notifier, "long", [f"[ALERT] {'x' * 90} {i}" for i in range(40)])  # 40 long lines: cut at a line
    long = fake_slack.calls("chat.postMessage")[1]["body"]["blocks"][1]["text"]["text"]
    assert (len(long) <= 2900 and long.endswith("\n…")
            and all(x.startswith("• [ALERT] ") for x in long.splitlines()[:-1]))
