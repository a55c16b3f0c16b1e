"""Helpers shared by the app API tests."""

from __future__ import annotations

from ragkit.testing import FakeOllama

TEXTS = [
    "Backups run nightly at 02:00 UTC and are kept for thirty days.",
    "API keys are rotated automatically every 90 days by the platform team.",
    "The on-call engineer answers pages within fifteen minutes.",
    "Deployments to production need two approvals from the owning team.",
]


def embed_requests(server: FakeOllama) -> int:
    """``/api/embed`` requests the server received so far."""
    return server.counts("/api/embed")
