"""The `scripted` fixture: every pool the driver makes is a ScriptedArena (tests/arena_builders.py)."""
from __future__ import annotations

import pytest
from arena_builders import ScriptedArena
from counselsim.runtime import driver


@pytest.fixture
def scripted(monkeypatch):
    pools = []

    def make_pool(cfg, address=None):
        pools.append(ScriptedArena(cfg))
        return pools[-1]

    monkeypatch.setattr(driver, "make_pool", make_pool)
    return pools
