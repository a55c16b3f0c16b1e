"""The examples in the client's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "ragkit.ollama._base",
        "ragkit.ollama._durations",
        "ragkit.ollama._host",
        "ragkit.ollama._images",
        "ragkit.ollama._tools",
        "ragkit.ollama._types",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
