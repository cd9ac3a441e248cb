"""One Spark session (local[2]) for every Spark test: starting the JVM is the slow part."""

from __future__ import annotations

import pytest

from tests.models.conftest import checkerboard


@pytest.fixture(scope="session")
def trainer(tmp_path_factory):
    from shelfwise.models.spark import SparkTrainer

    with SparkTrainer("local[2]", tmp_path_factory.mktemp("spark"), driver_memory="1g") as t:
        yield t


@pytest.fixture(scope="session")
def board():
    return checkerboard()
