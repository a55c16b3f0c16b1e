"""Client and AsyncClient are twins with the same signatures; __all__ is pinned."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import ragkit.ollama
from ragkit.ollama import AsyncClient, AsyncOpenAI, Client, OpenAI

SYNC_ONLY = {"close", "__enter__", "__exit__"}
ASYNC_ONLY = {"aclose", "__aenter__", "__aexit__"}


def public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(cls).items()
        if callable(member) and (not name.startswith("_") or name == "__init__")
    }


def shape(function: Any) -> list[tuple[str, Any, Any]]:
    """Parameter names, kinds and defaults; annotations differ by design
    (``Stream`` vs ``AsyncStream``, sync vs async transports)."""
    return [
        (param.name, param.kind, param.default)
        for param in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize(
    ("sync", "async_"), [(Client, AsyncClient), (OpenAI, AsyncOpenAI)]
)
def test_twins_have_the_same_methods_and_signatures(sync: type, async_: type) -> None:
    sync_methods = public_methods(sync)
    async_methods = public_methods(async_)
    assert set(sync_methods) - SYNC_ONLY == set(async_methods) - ASYNC_ONLY
    for name, method in sync_methods.items():
        if name in SYNC_ONLY:
            continue
        twin = async_methods[name]
        assert shape(method) == shape(twin), name
        if name != "__init__" and not name.startswith("_"):
            assert inspect.iscoroutinefunction(twin), name
            assert not inspect.iscoroutinefunction(method), name


def test_the_expected_endpoints_exist() -> None:
    expected = {
        "generate",
        "chat",
        "embed",
        "embeddings",
        "list",
        "ps",
        "show",
        "pull",
        "push",
        "create",
        "copy",
        "delete",
        "version",
        "blob_exists",
        "create_blob",
    }
    assert expected <= set(public_methods(Client))
    assert {"chat_completions", "completions", "embeddings", "models", "model"} <= set(
        public_methods(OpenAI)
    )


def test_interface_others_rely_on() -> None:
    init = inspect.signature(Client.__init__).parameters
    assert list(init)[:8] == [
        "self",
        "host",
        "headers",
        "timeout",
        "api_key",
        "retries",
        "backoff",
        "transport",
    ]
    assert init["retries"].default == 2
    assert init["timeout"].default is ragkit.ollama.DEFAULT_TIMEOUT
    embed = inspect.signature(Client.embed).parameters
    assert list(embed) == [
        "self",
        "model",
        "input",
        "truncate",
        "dimensions",
        "options",
        "keep_alive",
    ]
    show = inspect.signature(Client.show).parameters
    assert show["verbose"].default is False
    chat = inspect.signature(Client.chat).parameters
    assert list(chat)[:4] == ["self", "model", "messages", "tools"]
    assert chat["stream"].default is False


def test_all_is_sorted_complete_and_importable() -> None:
    exported = ragkit.ollama.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(ragkit.ollama, name), name
    public = {
        name
        for name, value in vars(ragkit.ollama).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name != "annotations"
    }
    assert public == set(exported)
