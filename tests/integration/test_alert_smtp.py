"""The Airflow-side sender: the stored message goes out as it is, over the TLS and login the SMTP connection sets.

A real SMTP server on loopback (aiosmtpd, the project's sink handler) that requires STARTTLS and a login, with a
certificate made for the test.
"""

from __future__ import annotations

import email
import ipaddress
import json
import socket
import ssl
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from include.inventory.alerts.messages import MAIL_POLICY, build_message
from include.inventory.alerts.recipients import mailbox
from include.inventory.alerts.smtp import smtp_sender_from_airflow
from tools.mailsink import EmlFolder

LOGIN, PASSWORD = "alerts", "s3cret pass"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_tls(tmp_path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


@pytest.fixture
def server(tmp_path):
    """An SMTP server that accepts mail only after STARTTLS and a login; it records the logins it saw."""
    logins: list[tuple[str, str]] = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=(auth_data.login.decode(), auth_data.password.decode()) == (LOGIN, PASSWORD))

    port = _free_port()
    controller = Controller(
        EmlFolder(tmp_path / "mail"),
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_tls(tmp_path),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    yield port, tmp_path / "mail", logins
    controller.stop()


def _connection(monkeypatch, port: int, **extra) -> None:
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": LOGIN, "password": PASSWORD}
    smtp["extra"] = {"disable_ssl": True, "from_email": "airflow@example.com", **extra}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(smtp))


def _message():
    return build_message(
        sender="inventory-alerts@example.com",
        to=[mailbox("ops@example.com", "Ops")],
        subject="[inventory] 1 new low-stock item",
        text="Hello,\n\nstock is low.\n",
        html_body="<p>Hello,</p><p>stock is <b>low</b>.</p>",
        attachment=("low_stock.csv", b"level,product\r\nlow,Caf\xc3\xa9\r\n"),
    )


def test_the_stored_message_is_sent_as_is_over_starttls_and_login(server, monkeypatch):
    port, folder, logins = server
    _connection(monkeypatch, port, ssl_context="none")  # the test's own certificate: not verified
    msg = _message()
    stored = msg.as_string()  # what the outbox keeps

    refused = smtp_sender_from_airflow()(email.message_from_string(stored, policy=MAIL_POLICY))

    assert not refused
    assert logins == [(LOGIN, PASSWORD)]
    (eml,) = folder.glob("*.eml")
    received = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert received["X-Envelope-To"] == "ops@example.com"
    del received["X-Envelope-From"], received["X-Envelope-To"]
    assert received.as_string().replace("\r\n", "\n") == stored.replace("\r\n", "\n")
    assert received["Message-ID"] == msg["Message-ID"]
    assert received.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hello,\n\nstock is low.\n"
    assert "<b>low</b>" in received.get_body(("html",)).get_content()
    (attachment,) = received.iter_attachments()
    assert attachment.get_filename() == "low_stock.csv"


def test_the_server_certificate_is_verified_unless_the_connection_says_none(server, monkeypatch):
    port, folder, logins = server
    _connection(monkeypatch, port)  # ssl_context unset: the provider's default, verify against trusted CAs
    with pytest.raises(ssl.SSLCertVerificationError):
        smtp_sender_from_airflow()(_message())
    assert logins == [] and not list(folder.glob("*.eml"))  # nothing was sent in the clear


def test_oauth2_without_a_token_is_refused_naming_the_connection(monkeypatch):
    _connection(monkeypatch, 25, auth_type="oauth2")
    with pytest.raises(ValueError, match="SMTP connection smtp_default has auth_type oauth2 without an access_token"):
        smtp_sender_from_airflow()
