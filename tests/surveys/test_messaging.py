"""Sending through Django's SMTP backend to a small real SMTP server run by the test: a refused
message is recorded and retried with backoff while the others go out; editable templates are
checked before they are stored."""

import datetime as dt
import email
import socket
import socketserver
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError

from surveys import scheduling
from surveys.models import Message, MessageTemplate, Wave
from tests.surveys.test_scheduling import HOUR, make_panel, person

pytestmark = pytest.mark.django_db
SECOND = dt.timedelta(seconds=1)


class _Handler(socketserver.StreamRequestHandler):
    """Enough SMTP (RFC 5321) for smtplib: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        server = self.server
        self.reply("220 test ESMTP")
        recipients = []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode().strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-test\r\n250 8BITMIME\r\n")
            elif verb == "HELO":
                self.reply("250 test")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().split()[0].strip("<>")
                with server.lock:
                    refuse = server.refuse.get(address, 0)
                    if refuse:
                        server.refuse[address] = refuse - 1
                if refuse:
                    self.reply("450 4.2.1 Mailbox busy, try again later")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line)
                with server.lock:
                    server.received.append((list(recipients), b"".join(lines).decode(errors="replace")))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                recipients = [] if verb == "RSET" else recipients
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.refuse: dict[str, int] = {}  # address -> how many more times to refuse it
        self.received: list[tuple[list[str], str]] = []

    def recipients(self) -> list[str]:
        return sorted(address for to, _data in self.received for address in to)


@pytest.fixture
def smtp(settings):
    server = SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.MESSAGE_RETRY_SECONDS = 300
    settings.SITE_URL = "http://testserver"
    yield server
    server.shutdown()
    server.server_close()


def open_panel():
    study, (wave, *_rest) = make_panel(waves=1)
    people = [person(study, name) for name in "abc"]
    Wave.objects.filter(pk=wave.pk).update(state="open")
    return wave, people


def tick(at):
    with time_machine.travel(at, tick=False):
        return scheduling.advance_schedule()


def test_an_smtp_failure_on_one_message_is_recorded_and_retried_with_backoff_while_the_others_go(smtp):
    wave, (a, b, c) = open_panel()
    smtp.refuse["b@example.org"] = 1
    start = wave.opens_at + HOUR
    tick(start)
    assert smtp.recipients() == ["a@example.org", "c@example.org"]
    failed = Message.objects.get(participant=b)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert "SMTPRecipientsRefused" in failed.last_error and "450" in failed.last_error
    assert failed.next_attempt_at == start + 300 * SECOND
    assert failed.participant.tokens.get().revoked_at is not None  # its link never reached anyone

    tick(start + 299 * SECOND)  # not due yet
    assert len(smtp.received) == 2
    tick(start + 300 * SECOND)
    assert smtp.recipients() == ["a@example.org", "b@example.org", "c@example.org"]
    retried = Message.objects.get(participant=b)
    assert (retried.status, retried.attempts, retried.last_error) == ("sent", 2, "")
    assert list(Message.objects.values_list("status", flat=True)) == ["sent"] * 3
    # The body that went over SMTP carries the personal link and the unsubscribe link.
    data = next(data for to, data in smtp.received if to == ["b@example.org"])
    parsed = email.message_from_string(data)
    assert "http://testserver/p/" in parsed.get_payload()
    assert parsed["List-Unsubscribe"].strip().startswith("<http://testserver/u/")


def test_a_message_that_keeps_failing_is_given_up_after_the_last_attempt_with_doubling_waits(smtp, settings):
    settings.MESSAGE_MAX_ATTEMPTS = 3
    wave, (a, b, c) = open_panel()
    smtp.refuse["b@example.org"] = 99
    start = wave.opens_at + HOUR
    tick(start)
    assert Message.objects.get(participant=b).next_attempt_at == start + 300 * SECOND
    tick(start + 300 * SECOND)
    second = Message.objects.get(participant=b)
    assert (second.status, second.attempts, second.next_attempt_at) == ("pending", 2, start + 900 * SECOND)
    tick(start + 900 * SECOND)
    given_up = Message.objects.get(participant=b)
    assert (given_up.status, given_up.attempts) == ("given_up", 3)
    tick(start + 5 * HOUR)
    assert Message.objects.get(participant=b).attempts == 3
    assert smtp.recipients() == ["a@example.org", "c@example.org"]


def test_an_unreachable_mail_server_fails_the_batch_and_it_is_sent_when_the_server_is_back(smtp, settings):
    wave, people = open_panel()
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = probe.getsockname()[1]
    start = wave.opens_at + HOUR
    tick(start)
    rows = list(Message.objects.values_list("status", "attempts"))
    assert rows == [("pending", 1)] * 3
    assert "ConnectionRefusedError" in Message.objects.first().last_error
    settings.EMAIL_PORT = smtp.server_address[1]
    tick(start + 300 * SECOND)
    assert smtp.recipients() == ["a@example.org", "b@example.org", "c@example.org"]


@pytest.mark.parametrize(("body", "error"), [
    ("Hello, no links here", "must contain {{ link }} and {{ unsubscribe_link }}"),
    ("{{ link }} only", "must contain"),
    ("{% if %}{{ link }}{{ unsubscribe_link }}", "Template error"),
])
def test_a_study_template_without_its_links_or_with_a_syntax_error_is_refused(body, error):
    study, _waves = make_panel(waves=1)
    template = MessageTemplate(study=study, kind="reminder", language="en", subject="Reminder", body=body)
    with pytest.raises(ValidationError) as raised:
        template.full_clean()
    assert error in str(raised.value)


def test_a_study_template_in_a_language_the_study_does_not_offer_is_refused():
    study, _waves = make_panel(waves=1)
    template = MessageTemplate(study=study, kind="reminder", language="fr", subject="Rappel",
                               body="{{ link }} {{ unsubscribe_link }}")
    with pytest.raises(ValidationError, match="does not offer this language"):
        template.full_clean()


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_rows_at_once_get_each_row_once():
    from django.db import connection as database
    from django.utils import timezone

    from surveys.messaging import claim_messages

    if database.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (set DATABASE_URL)")
    study, (wave, *_rest) = make_panel(waves=1)
    people = [person(study, f"p{i}") for i in range(40)]
    Message.objects.bulk_create([Message(participant=p, wave=wave, kind="invitation", status="queued",
                                         queued_at=timezone.now()) for p in people])
    ids = list(Message.objects.values_list("pk", flat=True))
    barrier = threading.Barrier(4)
    claimed: list[list[int]] = []

    def worker():
        from django.db import connection

        try:
            barrier.wait()
            claimed.append(claim_messages(message_ids=ids, now=timezone.now()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [pk for got in claimed for pk in got]
    assert sorted(every) == sorted(ids)  # all claimed, none twice
    assert set(Message.objects.values_list("status", "attempts")) == {("sending", 1)}
