"""OLLAMA_HOST parsing (the official client's rules) and API-key headers."""

from __future__ import annotations

import pytest
from ollama._client import _parse_host as official_parse_host

from ragkit.errors import ConfigError
from ragkit.ollama import Client, InvalidHostError, parse_host
from ragkit.ollama._host import auth_headers

# Wire facts section 7, official Python client column.
TABLE = [
    (None, "http://127.0.0.1:11434"),
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    ("example.com:8080", "http://example.com:8080"),
    ("http://example.com", "http://example.com:80"),
    ("https://example.com", "https://example.com:443"),
    ("https://example.com/ollama/", "https://example.com:443/ollama"),
    (":8080", "http://127.0.0.1:8080"),
    ("[::1]", "http://[::1]:11434"),
    ("0.0.0.0", "http://0.0.0.0:11434"),
    ("ollama.com", "http://ollama.com:11434"),
    ('"1.2.3.4"', 'http://"1.2.3.4":11434'),
    (" 1.2.3.4 ", "http:// 1.2.3.4 :11434"),
    ("EXAMPLE.com", "http://example.com:11434"),
    ("http://h:0", "http://h:80"),
    ("tcp://h", "tcp://h:11434"),
    (
        "https://[0001:002:003:0004::1]:56789/path/",
        "https://[0001:002:003:0004::1]:56789/path",
    ),
    ("example.com:56789/a/b", "http://example.com:56789/a/b"),
]


@pytest.mark.parametrize(("value", "expected"), TABLE)
def test_parse_host_follows_the_official_client_table(
    value: str | None, expected: str
) -> None:
    assert parse_host(value) == expected


@pytest.mark.parametrize(
    "value",
    [value for value, _ in TABLE]
    + ["http://user:pw@h:5/x", "h:1", "[::1]:5/", "https://h:443", "x/y/"],
)
def test_parse_host_agrees_with_the_official_implementation(value: str | None) -> None:
    assert parse_host(value) == official_parse_host(value)


@pytest.mark.parametrize("value", ["::1", "http://h:99999", "h:abc", "[::1"])
def test_bad_hosts_raise_an_error_that_is_both_config_and_value_error(
    value: str,
) -> None:
    with pytest.raises(ValueError):
        official_parse_host(value)
    with pytest.raises(InvalidHostError) as info:
        parse_host(value)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)


def test_credentials_in_a_bad_host_do_not_reach_the_message() -> None:
    with pytest.raises(InvalidHostError) as info:
        parse_host("http://user:hunter2@h:99999")
    assert "hunter2" not in str(info.value)
    assert "***@" in str(info.value)


def test_client_reads_ollama_host_only_when_host_is_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "example.com:9")
    with Client() as client:
        assert client.host == "http://example.com:9"
    with Client("other:1") as client:
        assert client.host == "http://other:1"


def test_bad_ollama_host_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "::1")
    with pytest.raises(InvalidHostError):
        Client()


def test_api_key_argument_becomes_a_bearer_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "from-env")
    assert auth_headers(None, "explicit") == {"Authorization": "Bearer explicit"}
    assert auth_headers(None, None) == {"Authorization": "Bearer from-env"}


def test_callers_authorization_header_wins_over_any_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "from-env")
    given = {"authorization": "Basic abc", "X-Other": "1"}
    assert auth_headers(given, "explicit") == given


def test_no_key_means_no_authorization_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "")
    assert auth_headers({"X-A": "1"}, None) == {"X-A": "1"}
