"""gorsejs 0.4.8, Gorse's TypeScript client, on the machine's Node.js against a real shelfwise
server: ``gorse_js/check.js`` calls every method of the client and checks the answers.

gorsejs is installed into ``gorse_js/node_modules`` (git-ignored) on first use, from the
locked versions in ``gorse_js/package-lock.json``; npm missing is a failure, not a skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.gorse_shop import shop

HERE = Path(__file__).resolve().parent / "gorse_js"
VERSION = "0.4.8"


@pytest.fixture(scope="session")
def gorse(tmp_path_factory):
    s = shop(tmp_path_factory.getbasetemp())
    yield s
    s.stop()


@pytest.fixture(scope="session")
def gorsejs() -> Path:
    """The folder where ``require("gorsejs")`` finds gorsejs 0.4.8, installed if missing."""
    installed = HERE / "node_modules" / "gorsejs" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == VERSION:
        return HERE
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("Node.js and npm are needed to check gorsejs (Gorse's TypeScript client)")
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"npm install failed:\n{done.stdout}\n{done.stderr}"
    assert json.loads(installed.read_text())["version"] == VERSION
    return HERE


def test_gorsejs_every_method(gorse, gorsejs):
    env = {**os.environ, "GORSE_ENDPOINT": gorse.url, "GORSE_SECRET": gorse.key}
    done = subprocess.run(["node", "check.js"], cwd=gorsejs, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["called"] == report["methods"]  # every method the client has
    assert len(report["methods"]) == 29
