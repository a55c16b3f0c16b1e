"""Index the rows of a SQLite table with metadata, then search and ask with filters.

    OLLAMA_HOST=http://127.0.0.1:11434 python examples/sqlite_rows.py [tickets.db]

Each row becomes one document whose id is the row's key, so indexing the
table again only embeds rows that changed. Without a database file the
script makes a small one in memory.
"""

from __future__ import annotations

import sqlite3
import sys

import ragkit

SAMPLE_TICKETS = [
    (
        1,
        "billing",
        3,
        2024,
        "Invoice totals are wrong when a discount code is applied.",
    ),
    (2, "billing", 1, 2023, "Customers ask how to download last year's invoices."),
    (3, "auth", 3, 2024, "Login fails with an expired session token after an upgrade."),
    (4, "auth", 2, 2025, "Password reset emails arrive after the reset link expired."),
    (5, "billing", 2, 2025, "Refunds for annual plans are issued to the wrong card."),
    (6, "search", 1, 2025, "Search results do not include archived tickets."),
]


def sample_database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY, team TEXT, priority INTEGER, "
        "year INTEGER, body TEXT)"
    )
    db.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?, ?)", SAMPLE_TICKETS)
    return db


def index_rows(index: ragkit.Index, db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT id, team, priority, year, body FROM tickets").fetchall()
    report = index.add(
        [body for _, _, _, _, body in rows],
        ids=[f"ticket/{key}" for key, _, _, _, _ in rows],
        metadata=[
            {"team": team, "priority": priority, "year": year}
            for _, team, priority, year, _ in rows
        ],
    )
    print(f"indexed {len(report.added)} new and {len(report.changed)} changed rows")


def main(path: str | None) -> None:
    db = sqlite3.connect(path) if path else sample_database()
    try:
        with ragkit.Index.memory() as index:
            index_rows(index, db)

            # Filters run inside the search: k results come back if k rows pass.
            urgent_billing = {"team": "billing", "priority": {"$gte": 2}}
            for hit in index.search(
                "invoice refund problems", k=3, where=urgent_billing
            ):
                meta = hit.chunk.metadata
                print(f"{hit.chunk.document} p{meta['priority']} {hit.chunk.text}")

            recent = {"year": {"$gte": 2025}, "team": {"$in": ["auth", "search"]}}
            answer = index.ask("What goes wrong with password resets?", where=recent)
            print(answer.text)
            for citation in answer.verified_citations:
                print(f"  from {citation.path}")
    finally:
        db.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
