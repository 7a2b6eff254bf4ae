"""Transports against real servers: aiosmtpd on loopback, raw sockets, a real outbox folder."""

from __future__ import annotations

import re
import socket
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from publisher.config import load_config
from publisher.delivery.throttle import HourlyLimit, TokenBucket
from publisher.delivery.transports import FileTransport, RelayDown, SmtpTransport, dot_stuffed

from conftest import fill_disk, free_port, write_relay_config

MESSAGE = (
    b"From: news@example.org\r\nTo: a@example.org\r\nSubject: Hi\r\n\r\n"
    b"Hello.\r\n.leading dot survives\r\n"
)


def smtp_config(root: Path, port: int, extra: str = "", timeout: float = 2):
    write_relay_config(root, port, smtp=extra, timeout=timeout)
    return load_config(root / "config" / "site.toml")


class Recorder:
    """An aiosmtpd handler counting connections and messages, with optional misbehaviour."""

    def __init__(
        self,
        drop_first_data: int = 0,
        pipelining: bool = False,
        drop_first_rcpt: int = 0,
        answer_after: float = 0.0,
    ):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.connections = 0
        self.drops_left = drop_first_data  # hang up once the whole message is in
        self.rcpt_drops_left = drop_first_rcpt  # hang up before the message is sent
        self.answer_after = answer_after  # seconds before answering the end of the message
        self.pipelining = pipelining
        self.rsets = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads pipelined commands in order; say so
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RSET(self, server, session, envelope):
        self.rsets += 1
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_drops_left:
            self.rcpt_drops_left -= 1
            server.transport.close()
            return "250 never seen"
        if address.startswith("nobody"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(self.answer_after)
        if self.drops_left:
            self.drops_left -= 1
            server.transport.close()
            return "250 never seen"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


class CountingController(Controller):
    def factory(self):
        protocol = super().factory()
        self.handler.connections += 1
        return protocol


@pytest.fixture
def relay():
    started = []

    def start(handler: Recorder, **smtp_options) -> int:
        port = free_port()
        controller = CountingController(handler, hostname="127.0.0.1", port=port, **smtp_options)
        controller.start()
        handler.connections = 0  # the controller's own start-up probe
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


@pytest.mark.parametrize("pipelining", [False, True])
def test_smtp_sends_over_one_connection_and_classifies_per_recipient(site, relay, pipelining):
    handler = Recorder(pipelining=pipelining)
    transport = SmtpTransport(smtp_config(site, relay(handler)))
    first = transport.send("bounces@example.org", "a@example.org", MESSAGE)
    refused = transport.send("bounces@example.org", "nobody@example.org", MESSAGE)
    after = transport.send("bounces@example.org", "b@example.org", MESSAGE)
    transport.close()

    assert (first.status, first.code) == ("sent", 250)
    assert (refused.status, refused.code, refused.bounce) == ("failed", 550, True)
    assert "No such user" in refused.reply
    assert after.status == "sent"
    assert handler.connections == 1
    assert handler.rsets >= 1  # the refused recipient's transaction was reset
    assert [m[1] for m in handler.messages] == [["a@example.org"], ["b@example.org"]]
    assert handler.messages[0][0] == "bounces@example.org"
    received = message_from_bytes(handler.messages[0][2], policy=policy.default)
    assert received.get_content().splitlines()[1] == ".leading dot survives"


def test_smtp_defers_4xx_and_fails_5xx_from_the_fixture_server(site, smtp_server):
    smtp_server.defer.add("later@example.org")
    transport = SmtpTransport(smtp_config(site, smtp_server.port))
    deferred = transport.send("news@example.org", "later@example.org", MESSAGE)
    transport.close()
    assert (deferred.status, deferred.code, deferred.bounce) == ("deferred", 451, False)
    assert smtp_server.received == []


@pytest.mark.parametrize("pipelining", [False, True])
def test_smtp_reconnects_after_a_drop_before_the_message_is_sent(site, relay, pipelining):
    handler = Recorder(drop_first_rcpt=1, pipelining=pipelining)
    transport = SmtpTransport(smtp_config(site, relay(handler)))
    result = transport.send("news@example.org", "a@example.org", MESSAGE)
    transport.close()
    assert result.status == "sent"
    assert handler.connections == 2
    assert len(handler.messages) == 1


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_drop_after_the_end_of_the_message_is_unknown_and_never_sent_again(
    site, relay, pipelining
):
    handler = Recorder(drop_first_data=1, pipelining=pipelining)
    transport = SmtpTransport(smtp_config(site, relay(handler)))
    lost = transport.send("news@example.org", "a@example.org", MESSAGE)
    after = transport.send("news@example.org", "b@example.org", MESSAGE)
    transport.close()
    assert (lost.status, lost.code) == ("unknown", None)
    assert "to the end of the message" in lost.reply and "not sent again" in lost.reply
    assert after.status == "sent"  # on a new connection
    assert handler.connections == 2  # the first message was not tried again
    assert [m[1] for m in handler.messages] == [["b@example.org"]]


def test_a_slow_answer_to_the_end_of_the_message_is_waited_for(site, relay):
    handler = Recorder(answer_after=1.5)
    transport = SmtpTransport(smtp_config(site, relay(handler), timeout=0.5))
    result = transport.send("news@example.org", "a@example.org", MESSAGE)
    transport.close()
    assert (result.status, result.code) == ("sent", 250)
    assert handler.connections == 1 and len(handler.messages) == 1


def test_no_answer_within_data_timeout_is_unknown(site, relay):
    handler = Recorder(answer_after=3)
    config = smtp_config(site, relay(handler), "data_timeout = 0.5")
    transport = SmtpTransport(config)
    result = transport.send("news@example.org", "a@example.org", MESSAGE)
    transport.close()
    assert result.status == "unknown" and "timed out" in result.reply
    assert handler.connections == 1


def test_smtp_defers_when_the_connection_keeps_dropping(site, relay):
    handler = Recorder(drop_first_rcpt=5)
    transport = SmtpTransport(smtp_config(site, relay(handler)))
    result = transport.send("news@example.org", "a@example.org", MESSAGE)
    transport.close()
    assert result.status == "deferred"
    assert "lost" in result.reply
    assert handler.messages == []


def test_smtp_caps_messages_per_connection(site, relay):
    handler = Recorder()
    config = smtp_config(site, relay(handler), "max_per_connection = 3")
    transport = SmtpTransport(config)
    for n in range(7):
        assert transport.send("news@example.org", f"r{n}@example.org", MESSAGE).status == "sent"
    transport.close()
    assert handler.connections == 3
    assert len(handler.messages) == 7


def test_refused_connection_is_relay_down(site):
    transport = SmtpTransport(smtp_config(site, free_port()))
    with pytest.raises(RelayDown, match="cannot connect to 127.0.0.1"):
        transport.send("news@example.org", "a@example.org", MESSAGE)


def _raw_server(greeting: bytes | None) -> tuple[int, threading.Event]:
    """A TCP server that greets with `greeting` (or never answers) and then hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    done = threading.Event()

    def serve():
        conn, _ = listener.accept()
        if greeting:
            conn.sendall(greeting)
        done.wait(5)
        conn.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], done


@pytest.mark.parametrize(
    ("greeting", "outcome"),
    [
        (b"554 5.7.1 You are not welcome\r\n", "relay down"),
        (b"421 4.7.0 Too busy, try later\r\n", "deferred"),
        (None, "relay down"),  # silent server: the timeout fires
    ],
)
def test_greeting_classified(site, greeting, outcome):
    port, done = _raw_server(greeting)
    config = smtp_config(site, port, timeout=0.5)
    transport = SmtpTransport(config)
    try:
        if outcome == "relay down":
            with pytest.raises(RelayDown):
                transport.send("news@example.org", "a@example.org", MESSAGE)
        else:
            result = transport.send("news@example.org", "a@example.org", MESSAGE)
            assert (result.status, result.code) == ("deferred", 421)
    finally:
        done.set()


def test_auth_with_password_from_environment(site, relay, monkeypatch):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    handler = Recorder()
    port = relay(handler, auth_require_tls=False, authenticator=authenticator)
    config = smtp_config(site, port, 'username = "mailer"\npassword_env = "RELAY_PASSWORD"')

    monkeypatch.setenv("RELAY_PASSWORD", "s3cret")
    assert SmtpTransport(config).send("n@example.org", "a@example.org", MESSAGE).status == "sent"

    monkeypatch.setenv("RELAY_PASSWORD", "wrong")
    with pytest.raises(RelayDown, match="refused the login of 'mailer'"):
        SmtpTransport(config).send("n@example.org", "a@example.org", MESSAGE)

    monkeypatch.delenv("RELAY_PASSWORD")
    with pytest.raises(RelayDown, match=r"\$RELAY_PASSWORD is empty"):
        SmtpTransport(config)


def test_file_transport_writes_whole_messages_into_new(tmp_path):
    transport = FileTransport(tmp_path / "outbox")
    results = [transport.send("n@example.org", f"r{n}@example.org", MESSAGE) for n in range(3)]
    assert {r.status for r in results} == {"sent"}
    files = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 3 and all(f.suffix == ".eml" for f in files)
    assert all(f.read_bytes() == MESSAGE for f in files)
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []
    folders = [tmp_path / "outbox", *(tmp_path / "outbox").iterdir()]
    assert {f.stat().st_mode & 0o777 for f in folders} == {0o700}
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}


def test_a_full_disk_leaves_no_partial_message_in_the_outbox(small_disk: Path):
    transport = FileTransport(small_disk / "outbox")
    fill_disk(small_disk / "filler")
    with pytest.raises(RelayDown, match="No space left on device"):
        transport.send("n@example.org", "r@example.org", MESSAGE * 4000)
    assert list((small_disk / "outbox" / "tmp").iterdir()) == []
    assert list((small_disk / "outbox" / "new").iterdir()) == []


def test_rate_limit_spaces_messages_across_threads():
    limit = TokenBucket(50)
    stop = threading.Event()
    times: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            assert limit.wait(stop)
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    assert len(times) == 40
    assert times[-1] - times[0] >= 39 / 50 * 0.95  # 40 messages need 39 intervals of 20 ms


def test_rate_limit_wait_is_interrupted_by_stop():
    limit = TokenBucket(0.01)  # one message per 100 s
    stop = threading.Event()
    assert limit.wait(stop)
    threading.Timer(0.05, stop.set).start()
    assert not limit.wait(stop)


def test_hourly_limit_counts_the_ledger_and_says_when_a_slot_frees():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    sent = [now - timedelta(minutes=50)] * 3

    def sent_since(since):
        return sum(t >= since for t in sent)

    def oldest_since(since):
        return min((t for t in sent if t >= since), default=None)

    limit = HourlyLimit(5, sent_since, oldest_since, lambda: now, refresh=0)
    assert limit.take() is None
    sent.append(now)
    assert limit.take() is None
    sent.append(now)
    assert limit.take() == now + timedelta(minutes=10)
    assert HourlyLimit(0, sent_since, oldest_since, lambda: now).take() is None


class RefusesSender(Recorder):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        return "553 5.7.1 Sender address rejected"


@pytest.mark.parametrize("pipelining", [False, True])
def test_refused_sender_is_relay_down_and_non_ascii_rcpt_fails(site, relay, pipelining):
    transport = SmtpTransport(smtp_config(site, relay(RefusesSender(pipelining=pipelining))))
    with pytest.raises(RelayDown, match="refused the sender news@example.org: 553"):
        transport.send("news@example.org", "a@example.org", MESSAGE)
    result = transport.send("news@example.org", "jörg@example.org", MESSAGE)
    assert result.status == "failed" and "SMTPUTF8" in result.reply


@pytest.mark.parametrize("pipelining", [False, True])
def test_non_ascii_local_part_travels_with_smtputf8_when_on_and_offered(site, relay, pipelining):
    """RFC 6531: MAIL FROM carries SMTPUTF8; the domain still travels as punycode."""
    handler = Recorder(pipelining=pipelining)
    port = relay(handler, enable_SMTPUTF8=True)
    on = SmtpTransport(smtp_config(site, port, "smtputf8 = true"))
    sent = on.send("news@example.org", "josé@bücher.example", "Tö: x\r\n\r\nHi\r\n".encode())
    ascii_after = on.send("news@example.org", "a@example.org", MESSAGE)
    on.close()
    assert (sent.status, ascii_after.status) == ("sent", "sent")
    assert [m[1] for m in handler.messages] == [["josé@xn--bcher-kva.example"], ["a@example.org"]]

    off = SmtpTransport(smtp_config(site, port))
    refused = off.send("news@example.org", "josé@example.org", MESSAGE)
    assert refused.status == "failed" and "needs SMTPUTF8" in refused.reply


def test_smtputf8_on_but_not_offered_fails_that_recipient_only(site, relay):
    handler = Recorder()
    port = relay(handler, enable_SMTPUTF8=False)
    transport = SmtpTransport(smtp_config(site, port, "smtputf8 = true"))
    refused = transport.send("news@example.org", "josé@example.org", MESSAGE)
    after = transport.send("news@example.org", "a@example.org", MESSAGE)
    assert refused.status == "failed" and "does not offer SMTPUTF8" in refused.reply
    assert after.status == "sent" and handler.connections == 1


@pytest.mark.parametrize(
    "rcpt", ["a@example.org\r\nRCPT TO:<b@example.org>", "no-at-sign", "a@" + "x" * 70 + ".org"]
)
def test_an_address_no_relay_could_take_fails_before_any_command(site, relay, rcpt):
    handler = Recorder()
    transport = SmtpTransport(smtp_config(site, relay(handler)))
    result = transport.send("news@example.org", rcpt, MESSAGE)
    assert result.status == "failed" and result.code is None
    assert handler.messages == []


@pytest.mark.parametrize(
    "data, stuffed",
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b".a\r\n.\r\nb.c\r\n..d\r\n", b"..a\r\n..\r\nb.c\r\n...d\r\n"),
        (b"a\n.b", b"a\n..b"),
    ],
)
def test_dot_stuffing_doubles_a_dot_at_the_start_of_every_line(data, stuffed):
    assert dot_stuffed(data) == stuffed == re.sub(rb"(?m)^\.", b"..", data)
