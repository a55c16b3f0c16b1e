"""The public surface is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import importlib

import pytest

import ragkit

TOP_LEVEL = [
    "AddReport",
    "Answer",
    "AnswerDelta",
    "AnswerEvent",
    "AnswerRetry",
    "ChatSession",
    "Chunk",
    "Citation",
    "CitationError",
    "ConfigError",
    "Document",
    "Hit",
    "Index",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexStats",
    "IngestError",
    "IngestProgress",
    "IngestReport",
    "ModelNotFoundError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "Pipeline",
    "QueryEngine",
    "QueryError",
    "RagkitError",
    "Recipe",
    "ResponseError",
    "Section",
    "StoreError",
    "__version__",
    "aembed",
    "embed",
]


def test_top_level_all_is_pinned() -> None:
    assert ragkit.__all__ == TOP_LEVEL


def test_top_level_all_is_sorted_and_importable() -> None:
    assert list(ragkit.__all__) == sorted(ragkit.__all__)
    for name in ragkit.__all__:
        assert hasattr(ragkit, name), name


@pytest.mark.parametrize(
    "module",
    [
        "ragkit.app",
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
