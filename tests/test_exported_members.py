"""The public surface is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import importlib

import pytest

import ragkit


def test_top_level_all_is_sorted_and_importable() -> None:
    assert list(ragkit.__all__) == sorted(ragkit.__all__)
    for name in ragkit.__all__:
        assert hasattr(ragkit, name), name


@pytest.mark.parametrize(
    "module",
    [
        "ragkit.documents",
        "ragkit.embedding",
        "ragkit.errors",
        "ragkit.ollama",
        "ragkit.pipeline",
        "ragkit.query",
        "ragkit.store",
        "ragkit.testing",
        "ragkit.types",
    ],
)
def test_package_all_is_sorted_and_complete(module: str) -> None:
    mod = importlib.import_module(module)
    exported = list(mod.__all__)
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(mod, name), f"{module}.{name}"
