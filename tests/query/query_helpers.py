"""Query test helpers: hand-built indexes, recording and scripted chat clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ragkit.embedding import Embedder
from ragkit.ollama import Client
from ragkit.pipeline import text_hash
from ragkit.store import DocumentRecord, Manifest, Store
from ragkit.testing import FakeOllama
from ragkit.types import Chunk, MetadataValue


@dataclass
class Doc:
    """A document for a hand-built index: its text cut at the given offsets."""

    path: str
    text: str
    cuts: Sequence[tuple[int, int]] = ()
    kind: str = "markdown"
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    heading: tuple[str, ...] = ()
    page: int | None = None

    def chunks(self) -> list[Chunk]:
        spans = list(self.cuts) or [(0, len(self.text))]
        out = []
        for number, (start, end) in enumerate(spans):
            out.append(
                Chunk(
                    id=f"{self.path}#{number}",
                    document=self.path,
                    text=self.text[start:end],
                    start=start,
                    end=end,
                    line_start=self.text.count("\n", 0, start) + 1,
                    line_end=self.text.count("\n", 0, max(start, end - 1)) + 1,
                    page=self.page,
                    heading_path=self.heading,
                    metadata=self.metadata,
                )
            )
        return out


def build_index(path: Path, docs: Sequence[Doc], *, host: str) -> Path:
    """Write ``docs`` into a new index at ``path`` as the pipeline would.

    Vectors come from FakeOllama's ``nomic-embed-text`` with the document
    prefix, cached under the pipeline's own key (:func:`text_hash`).
    """
    with Embedder("nomic-embed-text", hosts=[host]) as embedder:
        manifest = Manifest(
            embed_model="nomic-embed-text",
            dimension=embedder.model_info().dimension,
            document_prefix=embedder.document_prefix,
            query_prefix=embedder.query_prefix,
        )
        with Store.create(path, manifest) as store:
            for doc in docs:
                chunks = doc.chunks()
                texts = [embedder.document_prefix + c.text for c in chunks]
                hashes = [text_hash(t) for t in texts]
                store.put_vectors(
                    zip(hashes, embedder.embed_documents(texts), strict=True)
                )
                record = DocumentRecord(
                    path=doc.path,
                    content_hash=text_hash(doc.text),
                    kind=doc.kind,
                    metadata=doc.metadata,
                )
                store.replace_document(record, chunks, hashes)
            store.sync()
    return path


class ChatLog:
    """A chat client that keeps the bodies of the ``/api/chat`` requests it sends.

    FakeOllama logs a request after answering it, so its log can lag behind
    a client that has just read the reply; the client's own record cannot.
    """

    def __init__(self, url: str) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.client = Client(url, event_hooks={"request": [self._record]})

    def _record(self, request: httpx.Request) -> None:
        if request.url.path == "/api/chat":
            self.bodies.append(json.loads(request.content))


ChatScript = Callable[[dict[str, Any]], str | None]


class ChatProxy:
    """Forwards every request to FakeOllama, except chat replies a script writes.

    The script gets each ``/api/chat`` request body and returns the content
    the model should reply with (non-streamed), or None to let FakeOllama
    answer. It stands for model behaviour FakeOllama never shows, such as
    citing a source that was not given.
    """

    def __init__(self, server: FakeOllama, script: ChatScript) -> None:
        self.server = server
        self.script = script
        self.chats: list[dict[str, Any]] = []
        self._upstream = httpx.Client(base_url=server.url)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/chat":
            body = json.loads(request.content)
            self.chats.append(body)
            content = self.script(body)
            if content is not None:
                reply = {
                    "model": body["model"],
                    "message": {"role": "assistant", "content": content},
                    "done": True,
                    "done_reason": "stop",
                    "prompt_eval_count": 10,
                    "eval_count": 5,
                }
                if body.get("stream") is False:
                    return httpx.Response(200, json=reply)
                line = (json.dumps(reply) + "\n").encode()
                return httpx.Response(
                    200, content=line, headers={"Content-Type": "application/x-ndjson"}
                )
        upstream = self._upstream.send(
            self._upstream.build_request(
                request.method,
                request.url.path,
                content=request.content,
                headers={"Content-Type": "application/json"},
            )
        )
        return httpx.Response(
            upstream.status_code,
            content=upstream.content,
            headers={"Content-Type": upstream.headers.get("content-type", "")},
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def close(self) -> None:
        self._upstream.close()
