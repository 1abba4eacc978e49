"""Shared test setup: a headless matplotlib backend and a clean DLCORE_* environment."""
import matplotlib

matplotlib.use("agg")  # before anything imports pyplot; never via the MPLBACKEND variable

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Tests see no DLCORE_DEVICE / DLCORE_PRESENTER from the shell that started pytest."""
    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    monkeypatch.delenv("DLCORE_PRESENTER", raising=False)

