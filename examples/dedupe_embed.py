"""Find near-duplicate texts with ``ragkit.embed`` and cosine similarity.

    OLLAMA_HOST=http://127.0.0.1:11434 python examples/dedupe_embed.py [file.txt]

Reads one text per line (or uses a built-in sample) and prints the groups of
lines whose embeddings are almost the same.
"""

from __future__ import annotations

import sys

import numpy as np

import ragkit

SAMPLE = [
    "Reset your password from the account settings page.",
    "The office is closed on public holidays.",
    "Reset your password from the account settings page!",
    "You can reset your password on the account settings page.",
    "Expense reports are due on the fifth of each month.",
    "The office is closed on all public holidays.",
]

THRESHOLD = 0.85
"""Cosine similarity from which two texts count as near duplicates."""


def near_duplicate_groups(texts: list[str], threshold: float) -> list[list[int]]:
    vectors = ragkit.embed(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    groups: list[list[int]] = []
    grouped: set[int] = set()
    for i in range(len(texts)):
        if i in grouped:
            continue
        # Single-link grouping against the first text of the group keeps the
        # example short; a real app might cluster more carefully.
        members = [j for j in range(i, len(texts)) if similarity[i, j] >= threshold]
        if len(members) > 1:
            groups.append(members)
            grouped.update(members)
    return groups


def main(path: str | None) -> None:
    if path:
        with open(path, encoding="utf-8") as file:
            texts = [line.strip() for line in file if line.strip()]
    else:
        texts = SAMPLE
    groups = near_duplicate_groups(texts, THRESHOLD)
    for number, members in enumerate(groups, 1):
        print(f"group {number}:")
        for i in members:
            print(f"  {texts[i]}")
    print(f"{len(groups)} group(s) of near duplicates among {len(texts)} texts")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
