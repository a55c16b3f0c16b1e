"""Index a folder and ask it a question; print the answer and its checked citations.

    OLLAMA_HOST=http://127.0.0.1:11434 python examples/qa_minimal.py sample_docs \
        "How often are API keys rotated?"

The index lives in memory, so nothing is written to disk.
"""

from __future__ import annotations

import sys

import ragkit


def main(folder: str, question: str) -> None:
    with ragkit.Index.memory() as index:
        report = index.add_files([folder])
        print(f"indexed {len(report.added)} files ({report.chunks} chunks)")

        answer = index.ask(question)
        print(answer.text)
        # Only verified citations are facts: the quote was found in the passage.
        for citation in answer.verified_citations:
            print(f"[{citation.source}] {citation.path}:{citation.line_start}")
            print(f'    "{citation.quote}"')


if __name__ == "__main__":
    folder = sys.argv[1] if len(sys.argv) > 1 else "sample_docs"
    question = sys.argv[2] if len(sys.argv) > 2 else "How often are API keys rotated?"
    main(folder, question)
