"""``shelfwise serve`` over HTTPS: a self-signed certificate made with ``cryptography``, the
real server on a free port, fetched over https with that certificate as the only CA. The same
server keeps profiles encrypted at rest (a key file in home) and applies the retention
settings when it starts."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import time

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from shelfwise.cli.main import app
from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.privacy.pseudonyms import Pseudonyms
from shelfwise.store.fields import new_key, write_key_file
from tests.api.conftest import cli, free_port

EMAIL = "bob.durand@example.org"
SHOPPER = "shopper-7f3a9c"  # an id no log line could hold by chance


def self_signed(folder) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_https_with_encrypted_profiles_and_retention(tmp_path):
    home = tmp_path / "home"
    write_key_file(home / "data.key", [new_key()])
    now = time.time()
    engine = Engine(Settings(home=home))
    engine.ingest([{"user_id": SHOPPER, "item_id": "i1", "event_type": "view", "timestamp": now - 40 * 86400},
                   {"user_id": SHOPPER, "item_id": "i2", "event_type": "view", "timestamp": now - 60}])
    engine.close()
    cert, key = self_signed(tmp_path)
    admin = cli("keys", "create", "tls-admin", "--scope", "admin", "--home", str(home))
    port = free_port()
    env = {**os.environ, "SHELFWISE_PRIVACY__EVENT_RETENTION_DAYS": "30", "SHELFWISE_SERVE__ACCESS_LOG": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port), "--home", str(home),
                             "--ssl-certfile", cert, "--ssl-keyfile", key],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    trust = ssl.create_default_context(cafile=cert)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline, up = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                up = httpx.get(f"{url}/healthz", verify=trust, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert up is not None and up.status_code == 200, proc.stdout.read1().decode() if proc.poll() else "no answer"
        # the certificate is what makes it trusted: without it as CA the handshake is refused
        try:
            httpx.get(f"{url}/healthz", timeout=5)
            raise AssertionError("an untrusted self-signed certificate was accepted")
        except httpx.ConnectError as exc:
            assert "CERTIFICATE_VERIFY_FAILED" in str(exc)
        with httpx.Client(base_url=url, verify=trust, headers={"Authorization": f"Bearer {admin}"}) as client:
            assert client.put(f"/users/{SHOPPER}", json={"attributes": {"email": EMAIL}}).status_code in (200, 201)
            assert client.get(f"/users/{SHOPPER}").json()["attributes"] == {"email": EMAIL}
            sent = client.post("/events", json={"user_id": SHOPPER, "item_id": "i3", "event_type": "view",
                                                "timestamp": time.time(), "context": {"query": "private words"}})
            assert sent.status_code in (200, 201, 202), sent.text
            client.get(f"/users/{SHOPPER}/recommendations", params={"n": 3})
            metrics = client.get("/metrics")
            assert metrics.status_code == 200 and "shelfwise_http_requests" in metrics.text
            assert SHOPPER not in metrics.text  # labels are route templates
        with sqlite3.connect(home / "events.db") as con:
            stored = con.execute("SELECT attributes FROM users").fetchone()[0]
            assert stored.startswith("sw1:") and EMAIL not in stored
            # serve applied event_retention_days at start: the 40-day-old event is gone, counted
            deadline = time.monotonic() + 20
            while con.execute("SELECT count(*) FROM events").fetchone()[0] != 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert con.execute("SELECT item_id FROM events ORDER BY seq").fetchall() == [("i2",), ("i3",)]
            sealed = con.execute("SELECT context FROM events WHERE item_id = 'i3'").fetchone()[0]
            assert sealed.startswith("sw1:") and "private" not in sealed  # the group-commit path encrypts too
            assert con.execute("SELECT item_id, event_type, count FROM item_counts").fetchall() == [("i1", "view", 1)]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    out = proc.stdout.read().decode()
    assert f"on https://127.0.0.1:{port}" in out and "no data key configured" not in out
    # the access log names the shopper by a stable pseudonym, never by id
    alias = Pseudonyms.from_settings(Settings(home=home))(SHOPPER)
    assert f"GET /users/{alias} HTTP/1.1" in out and f"GET /users/{alias}/recommendations?n=3" in out, out
    assert SHOPPER not in out


def test_serve_refuses_a_half_or_wrong_tls_pair_in_one_line(tmp_path):
    cert, _ = self_signed(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = self_signed(other)
    for args, expected in [(["--ssl-certfile", cert], "go together"),
                           (["--ssl-certfile", cert, "--ssl-keyfile", str(tmp_path / "nope.pem")],
                            "--ssl-keyfile: " + str(tmp_path / "nope.pem") + " is not a readable file"),
                           (["--ssl-certfile", cert, "--ssl-keyfile", other_key], "cannot use")]:
        res = CliRunner().invoke(app, ["serve", "--port", str(free_port()), "--home", str(tmp_path / "home"), *args])
        assert res.exit_code == 2 and expected in res.output and "Traceback" not in res.output, res.output
