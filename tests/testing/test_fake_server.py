"""FakeOllama over HTTP: framing, keep-alive, slots, costs, faults, log, lifecycle."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ragkit.testing import (
    QUEUE_FULL,
    CostModel,
    FakeModel,
    FakeOllama,
    Faults,
)

CHAT = {
    "model": "llama3.2",
    "messages": [{"role": "user", "content": "Why is the sky blue?"}],
}


def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll until ``condition`` holds (a state change, not a duration)."""
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        time.sleep(0.005)


@pytest.fixture
def conn(fake_ollama: FakeOllama) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection(fake_ollama.host, fake_ollama.port)
    yield connection
    connection.close()


# -- framing ---------------------------------------------------------------


def test_keep_alive_reuses_one_connection(
    conn: http.client.HTTPConnection,
) -> None:
    conn.request("GET", "/api/version")
    first = conn.getresponse()
    assert first.read() == b'{"version":"0.33.0"}'
    sock = conn.sock
    assert sock is not None
    conn.request("POST", "/api/chat", body=json.dumps(CHAT))
    streamed = conn.getresponse()
    streamed.read()
    conn.request("GET", "/api/tags")
    assert conn.getresponse().status == 200
    assert conn.sock is sock


def test_stream_uses_chunked_transfer_with_one_line_per_chunk(
    fake_ollama: FakeOllama,
) -> None:
    with socket.create_connection((fake_ollama.host, fake_ollama.port)) as sock:
        body = json.dumps(CHAT).encode()
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert b"Content-Type: application/x-ndjson" in head
    lines = []
    while True:
        size_text, _, payload = payload.partition(b"\r\n")
        size = int(size_text, 16)
        if size == 0:
            break
        lines.append(payload[:size])
        payload = payload[size + 2 :]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert json.loads(lines[-1])["done"] is True


def test_chunked_request_body_is_accepted(client: httpx.Client) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"model": "all-minilm",'
        yield b' "input": "chunked upload"}'

    response = client.post("/api/embed", content=body())
    assert response.status_code == 200
    assert len(response.json()["embeddings"][0]) == 384


def test_json_escapes_html_characters(fake_ollama: FakeOllama) -> None:
    fake_ollama.add_model(FakeModel(name="html", system="a <b> & c"))
    with httpx.Client(base_url=fake_ollama.url) as client:
        raw = client.post("/api/show", json={"model": "html"}).content
    assert b"a \\u003cb\\u003e \\u0026 c" in raw
    assert json.loads(raw)["system"] == "a <b> & c"


def test_no_server_header_and_a_date(client: httpx.Client) -> None:
    response = client.get("/api/version")
    assert "server" not in response.headers
    assert "date" in response.headers


# -- slots, queue, costs ---------------------------------------------------


def _post_in_thread(
    url: str, path: str, body: dict[str, Any], results: list[httpx.Response]
) -> threading.Thread:
    def run() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            results.append(client.post(path, json=body))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_full_queue_answers_503_with_the_real_text(
    fake_ollama_factory: Callable[..., FakeOllama], client: httpx.Client
) -> None:
    server = fake_ollama_factory(max_queue=1)
    server.pause()
    results: list[httpx.Response] = []
    first = _post_in_thread(server.url, "/api/chat", {**CHAT, "stream": False}, results)
    _wait_for(lambda: server.stats.active == 1)
    second = _post_in_thread(
        server.url, "/api/chat", {**CHAT, "stream": False}, results
    )
    _wait_for(lambda: server.stats.waiting == 1)
    with httpx.Client(base_url=server.url) as direct:
        refused = direct.post("/api/chat", json=CHAT)
    assert refused.status_code == 503
    assert refused.json() == {"error": QUEUE_FULL}
    assert QUEUE_FULL == (
        "server busy, please try again.  maximum pending requests exceeded"
    )
    server.resume()
    first.join()
    second.join()
    assert [r.status_code for r in results] == [200, 200]


def test_embedding_models_have_one_slot_chat_models_num_parallel(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    server = fake_ollama_factory(num_parallel=2)
    server.pause()
    results: list[httpx.Response] = []
    embed = {"model": "all-minilm", "input": "x"}
    threads = [
        _post_in_thread(server.url, "/api/embed", embed, results),
        _post_in_thread(server.url, "/api/embed", embed, results),
    ]
    _wait_for(lambda: server.stats.active == 1 and server.stats.waiting == 1)
    threads += [
        _post_in_thread(server.url, "/api/chat", {**CHAT, "stream": False}, results),
        _post_in_thread(server.url, "/api/chat", {**CHAT, "stream": False}, results),
    ]
    _wait_for(lambda: server.stats.active == 3 and server.stats.waiting == 1)
    server.resume()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200] * 4


def test_cost_model_charges_requests_and_inputs(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    server = fake_ollama_factory(
        cost=CostModel(per_request_ms=4, per_input_ms=3, per_token_ms=0.5, load_ms=2)
    )
    with httpx.Client(base_url=server.url) as client:
        client.post("/api/embed", json={"model": "all-minilm", "input": ["a", "b"]})
        client.post("/api/embed", json={"model": "all-minilm", "input": ["c"]})
        reply = client.post("/api/chat", json={**CHAT, "stream": False}).json()
    stats = server.stats
    # Load once (2) + two requests (4 each) + three inputs (3 each).
    assert stats.simulated_seconds["all-minilm:latest"] == pytest.approx(0.019)
    assert stats.busy_seconds["all-minilm:latest"] >= 0.019
    chat_cost = 0.002 + 0.004 + 0.0005 * reply["eval_count"]
    assert stats.simulated_seconds["llama3.2:latest"] == pytest.approx(chat_cost)
    assert stats.busy_seconds["llama3.2:latest"] >= chat_cost
    embed = stats.endpoint("/api/embed")
    assert (embed.requests, embed.inputs, embed.errors) == (2, 3, 0)
    assert stats.endpoint("/api/chat").eval_tokens == reply["eval_count"]
    assert reply["load_duration"] >= 2_000_000


def test_cost_can_change_at_runtime(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.cost = CostModel(per_request_ms=1)
    client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
    assert fake_ollama.cost.per_request_ms == 1
    assert fake_ollama.stats.simulated_seconds["all-minilm:latest"] == pytest.approx(
        0.001
    )


# -- faults ----------------------------------------------------------------


def test_fail_next_500_and_429_send_json_errors(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="500", endpoint="/api/embed", message="boom")
    fake_ollama.fail_next(kind="429", message="slow down")
    assert client.get("/api/version").status_code == 429
    failed = client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
    assert failed.status_code == 500
    assert failed.json() == {"error": "boom"}
    ok = client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
    assert ok.status_code == 200


def test_fail_next_503_is_the_queue_full_answer(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(2, kind="503")
    assert client.get("/api/tags").json() == {"error": QUEUE_FULL}
    assert client.get("/api/tags").status_code == 503
    assert client.get("/api/tags").status_code == 200


def test_a_request_is_logged_and_counted_before_its_reply_arrives(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    # A test reads the log right after its reply; it must never be behind.
    for n in range(1, 101):
        client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
        assert fake_ollama.counts("/api/embed") == n
        assert fake_ollama.stats.endpoint("/api/embed").requests == n
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    for n in range(1, 21):
        with client.stream("POST", "/api/chat", json=body) as reply:
            reply.read()
        assert fake_ollama.counts("/api/chat") == n
    assert client.get("/api/nowhere").status_code == 404
    assert fake_ollama.requests[-1].status == 404


def test_drop_closes_without_a_response(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/version")
    assert client.get("/api/version").status_code == 200
    assert fake_ollama.requests[0].status is None
    assert fake_ollama.requests[0].fault == "drop"


def test_cut_stream_never_delivers_the_final_line(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="cut", endpoint="/api/chat")
    lines: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/api/chat", json=CHAT) as response,
    ):
        for line in response.iter_lines():
            lines.append(line)
    assert len(lines) == 1
    assert json.loads(lines[0])["done"] is False


def test_cut_non_streamed_body_is_truncated(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="cut")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/tags")


def test_stream_error_line_after_output(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="stream_error", message="runner process terminated")
    response = client.post("/api/chat", json=CHAT)
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[-1] == {"error": "runner process terminated"}
    assert all(line.get("done") is False for line in lines[:-1])
    assert len(lines) >= 2


def test_stream_error_on_non_streamed_reply_is_500(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="stream_error", message="runner died")
    response = client.post("/api/chat", json={**CHAT, "stream": False})
    assert response.status_code == 500
    assert response.json() == {"error": "runner died"}


def test_malformed_line_in_stream_and_body(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="malformed", endpoint="/api/chat")
    lines = client.post("/api/chat", json=CHAT).text.splitlines()
    bad = [line for line in lines if not _is_json(line)]
    assert len(bad) == 1
    assert json.loads(lines[-1])["done"] is True
    fake_ollama.fail_next(kind="malformed")
    response = client.get("/api/tags")
    assert response.status_code == 200
    assert not _is_json(response.text)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_fault_rates_are_deterministic_for_a_seed(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    def statuses() -> list[int]:
        server = fake_ollama_factory(
            faults=Faults(error_rate=0.3, busy_rate=0.2, seed=7)
        )
        with httpx.Client(base_url=server.url) as client:
            return [client.get("/api/version").status_code for _ in range(30)]

    first, second = statuses(), statuses()
    assert first == second
    assert {500, 503, 200} == set(first)


def test_fault_rates_respect_endpoints_and_runtime_changes(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.faults = Faults(error_rate=1.0, endpoints=["/api/embed"])
    assert client.get("/api/version").status_code == 200
    embed = client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
    assert embed.json() == {"error": "injected fault"}
    fake_ollama.faults = Faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/version")
    fake_ollama.faults = Faults()
    assert client.get("/api/version").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"n": 0}, "n must be at least 1"),
    ],
)
def test_fail_next_rejects_bad_arguments(
    fake_ollama: FakeOllama, kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        fake_ollama.fail_next(**kwargs)


def test_fault_rates_must_be_probabilities() -> None:
    with pytest.raises(ValueError, match="error_rate must be between 0 and 1"):
        Faults(error_rate=1.5)


# -- request log and counters ------------------------------------------------


def test_request_log_records_method_path_body_status_and_headers(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    client.post(
        "/api/embed",
        json={"model": "all-minilm", "input": ["a", "b"]},
        headers={"Authorization": "Bearer test-key"},
    )
    client.get("/nowhere")
    first, second = fake_ollama.requests
    assert (first.method, first.path, first.status) == ("POST", "/api/embed", 200)
    assert first.body == {"model": "all-minilm", "input": ["a", "b"]}
    assert first.headers["authorization"] == "Bearer test-key"
    assert (second.path, second.status) == ("/nowhere", 404)
    assert fake_ollama.counts("/api/embed") == 1
    assert fake_ollama.counts("/api/embed", method="GET") == 0
    assert fake_ollama.stats.endpoint("/api/embed").inputs == 2
    fake_ollama.reset()
    assert fake_ollama.requests == []
    assert fake_ollama.stats.endpoint("/api/embed").requests == 0


def test_reset_forgets_scheduled_faults(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="500")
    fake_ollama.reset()
    assert client.get("/api/version").status_code == 200


# -- lifecycle and fixtures --------------------------------------------------


def test_stop_refuses_connections_and_start_reuses_the_port(
    fake_ollama: FakeOllama, tls_context: ssl.SSLContext
) -> None:
    port = fake_ollama.port
    fake_ollama.stop()
    assert not fake_ollama.running
    with (
        httpx.Client(base_url=fake_ollama.url, verify=tls_context) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("/api/version")
    fake_ollama.start()
    assert fake_ollama.port == port
    with httpx.Client(base_url=fake_ollama.url, verify=tls_context) as client:
        assert client.get("/api/version").status_code == 200


def test_stop_closes_idle_keep_alive_connections(
    fake_ollama: FakeOllama, conn: http.client.HTTPConnection
) -> None:
    def connection_threads() -> int:
        return sum(t.name == "fake-ollama-connection" for t in threading.enumerate())

    conn.request("GET", "/api/version")
    conn.getresponse().read()
    assert connection_threads() == 1
    fake_ollama.stop()
    assert connection_threads() == 0


def test_stop_releases_paused_requests(
    fake_ollama: FakeOllama,
) -> None:
    fake_ollama.pause()
    results: list[Any] = []

    def run() -> None:
        try:
            with httpx.Client(base_url=fake_ollama.url) as client:
                results.append(client.post("/api/chat", json=CHAT).status_code)
        except httpx.HTTPError as exc:
            results.append(type(exc))

    thread = threading.Thread(target=run)
    thread.start()
    _wait_for(lambda: fake_ollama.stats.active == 1)
    fake_ollama.stop()
    thread.join()
    assert results == [500] or results[0] in (
        httpx.RemoteProtocolError,
        httpx.ReadError,
    )


def test_start_twice_is_an_error(fake_ollama: FakeOllama) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        fake_ollama.start()


def test_context_manager_starts_and_stops() -> None:
    with FakeOllama() as server:
        assert server.running
        assert server.url.startswith("http://127.0.0.1:")
    assert not server.running
    server.stop()  # stopping twice is harmless


def test_fake_ollama_env_sets_ollama_host(fake_ollama_env: FakeOllama) -> None:
    import os

    assert os.environ["OLLAMA_HOST"] == fake_ollama_env.url


def test_factory_passes_settings(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    server = fake_ollama_factory(
        models=[FakeModel(name="only-one", kind="embedding", dimension=8)],
        version="0.12.0",
    )
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/version").json() == {"version": "0.12.0"}
        names = [m["name"] for m in client.get("/api/tags").json()["models"]]
        vector = client.post(
            "/api/embed", json={"model": "only-one", "input": "x"}
        ).json()["embeddings"][0]
    assert names == ["only-one:latest"]
    assert len(vector) == 8


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"num_parallel": 0}, "num_parallel must be at least 1"),
        ({"max_queue": -1}, "max_queue must not be negative"),
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        FakeOllama(**kwargs)


def test_invalid_model_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid model name"):
        FakeModel(name="bad name")


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback")
def test_ipv6_loopback(fake_ollama_factory: Callable[..., FakeOllama]) -> None:
    server = fake_ollama_factory(host="::1")
    assert server.url == f"http://[::1]:{server.port}"
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/version").status_code == 200
