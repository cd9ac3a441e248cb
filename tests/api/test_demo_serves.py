"""`shelfwise demo` ends by serving the demo shop; the sample request it prints works."""

import shlex
import subprocess
import sys
import time

import httpx

from tests.api.conftest import free_port


def test_the_printed_curl_answers(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "demo", "--home", str(tmp_path / "d"),
                             "--users", "300", "--items", "200", "--port", str(port),
                             "--seq-minutes", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 600  # trains nine models, evaluates five first
        line, said = "", []
        while not line.startswith("curl "):
            assert time.monotonic() < deadline and proc.poll() is None, "the demo did not start serving"
            line = proc.stdout.readline().strip()
            said.append(line)
        assert f"dashboard: http://127.0.0.1:{port}/dashboard/" in "\n".join(said)
        words = shlex.split(line)  # curl -s URL -H "Authorization: Bearer KEY"
        url, header = words[2], words[4]
        name, value = header.split(": ", 1)
        res = None
        ready_by = time.monotonic() + 120  # the server starts after the line; slowly on a loaded machine
        while res is None and time.monotonic() < ready_by and proc.poll() is None:
            try:
                res = httpx.get(url, headers={name: value}, timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
        assert res is not None, "the demo's server did not answer"
        assert res.status_code == 200, res.text
        body = res.json()
        assert len(body["items"]) == 5 and body["fallback"] is None
        key = value.removeprefix("Bearer ")  # the demo key opens the dashboard as an admin
        login = httpx.post(f"http://127.0.0.1:{port}/dashboard/login", data={"key": key}, follow_redirects=False)
        assert login.status_code == 303 and "shelfwise_session" in login.headers["set-cookie"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
