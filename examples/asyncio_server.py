"""An asyncio HTTP server (standard library only) that streams answers.

    OLLAMA_HOST=http://127.0.0.1:11434 python examples/asyncio_server.py sample_docs
    curl -N localhost:8000/ask -d '{"question": "How often are API keys rotated?"}'

``POST /ask`` with ``{"question": ..., "where": {...}}`` answers with
newline-delimited JSON, sent as it is written: ``{"delta": "..."}`` lines,
then one ``{"answer": ..., "citations": [...]}`` line. Searches and answers
never block the event loop, so many questions are served at once. The first
line on stdout says where it listens; Ctrl-C (SIGINT) or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

import ragkit

MAX_BODY = 64 * 1024


async def handle(
    index: ragkit.Index, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        request_line = (await reader.readline()).decode("latin-1").split()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if request_line[:2] != ["POST", "/ask"]:
            await reply(writer, 404, {"error": "POST /ask only"})
            return
        length = int(headers.get("content-length", "0"))
        if not 0 < length <= MAX_BODY:
            await reply(writer, 400, {"error": "send a JSON body"})
            return
        body = json.loads(await reader.readexactly(length))
        await stream_answer(index, writer, body["question"], body.get("where"))
    except (ValueError, KeyError, IndexError, ragkit.ConfigError) as exc:
        await reply(writer, 400, {"error": str(exc)})
    finally:
        writer.close()
        await writer.wait_closed()


async def stream_answer(
    index: ragkit.Index,
    writer: asyncio.StreamWriter,
    question: str,
    where: dict[str, Any] | None,
) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    try:
        async for event in index.aask_stream(question, where=where):
            if isinstance(event, ragkit.AnswerDelta):
                line: dict[str, Any] = {"delta": event.text}
            elif isinstance(event, ragkit.AnswerRetry):
                line = {"retry": event.reason}
            else:
                line = {
                    "answer": event.text,
                    "citations": [
                        {"path": c.path, "line": c.line_start, "quote": c.quote}
                        for c in event.verified_citations
                    ],
                }
            await send_chunk(writer, line)
    except ragkit.RagkitError as exc:
        # The status is already sent; the error travels as the last line.
        await send_chunk(writer, {"error": str(exc)})
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def send_chunk(writer: asyncio.StreamWriter, data: dict[str, Any]) -> None:
    payload = (json.dumps(data) + "\n").encode()
    writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
    await writer.drain()


async def reply(
    writer: asyncio.StreamWriter, status: int, data: dict[str, Any]
) -> None:
    payload = json.dumps(data).encode()
    writer.write(
        f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        + payload
    )
    await writer.drain()


async def serve(folder: str, port: int) -> None:
    async with ragkit.Index.memory() as index:
        await index.aadd_files([folder])
        server = await asyncio.start_server(
            lambda r, w: handle(index, r, w), "127.0.0.1", port
        )
        host, bound = server.sockets[0].getsockname()[:2]
        print(f"listening on http://{host}:{bound}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with server:
            await stop.wait()
    print("stopped", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="sample_docs")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    asyncio.run(serve(args.folder, args.port))
