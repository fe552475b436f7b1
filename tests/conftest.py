"""Fixtures shared by every test folder (what they use comes from :mod:`tests.helpers`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_problem


@pytest.fixture
def problem_writer(tmp_path):
    """``problem_writer(name, **tables)`` writes a problem under tmp_path/name."""

    def make(name: str = "p", **kwargs) -> Path:
        return write_problem(tmp_path / name, **kwargs)

    return make
