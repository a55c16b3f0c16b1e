"""Shared fixtures: FakeOllama on loopback (from ragkit's own pytest plugin)."""

from __future__ import annotations

pytest_plugins = ["ragkit.testing.pytest_plugin"]
