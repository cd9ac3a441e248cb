"""Shared fixtures. Real datasets are read in place from ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{DATA} is missing: CI must have ../shared beside the repository")
        pytest.skip(f"{DATA} not present")
    return DATA


@pytest.fixture(scope="session")
def small_shop():
    from shelfwise.data.synthetic import generate_shop

    return generate_shop(n_users=400, n_items=300, seed=3)
