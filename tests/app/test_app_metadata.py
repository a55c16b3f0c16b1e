"""Metadata through ``ragkit.Index``: stored with chunks, filtered inside the search."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from ragkit import ConfigError, Index
from ragkit.testing import FakeOllama

TEAMS = ("ops", "platform", "security", "data")
ROWS = 60


def row_metadata(n: int) -> dict[str, object]:
    metadata: dict[str, object] = {
        "team": TEAMS[n % 4],
        "year": 2020 + n % 6,
        "score": n / 10,
        "public": n % 3 == 0,
        "tags": [f"tag{n % 5}", "all"],
    }
    if n % 2:
        metadata["reviewer"] = f"person{n}"
    return metadata


@pytest.fixture(scope="module")
def rows_index() -> Iterator[Index]:
    """An index of ROWS short texts that all share the words searched for."""
    with FakeOllama() as server:
        with Index.memory(host=server.url) as index:
            texts = [
                f"Incident report {n}: the service restarted." for n in range(ROWS)
            ]
            index.add(
                texts,
                ids=[f"row/{n}" for n in range(ROWS)],
                metadata=[row_metadata(n) for n in range(ROWS)],
            )
            yield index


def matching(check: object) -> set[str]:
    assert callable(check)
    return {f"row/{n}" for n in range(ROWS) if check(row_metadata(n))}


def found(index: Index, where: Mapping[str, object], k: int = ROWS) -> set[str]:
    hits = index.search("incident report service restarted", k=k, where=where)
    return {hit.chunk.document for hit in hits}


def test_metadata_round_trips_with_its_types(rows_index: Index) -> None:
    [hit] = rows_index.search("incident", k=1, where={"year": 2021, "team": "platform"})

    n = int(hit.chunk.document.split("/")[1])
    assert dict(hit.chunk.metadata) == row_metadata(n)
    assert isinstance(hit.chunk.metadata["score"], float)
    assert isinstance(hit.chunk.metadata["public"], bool)


@pytest.mark.parametrize(
    ("where", "check"),
    [
        ({"team": "ops"}, lambda m: m["team"] == "ops"),
        ({"team": {"$eq": "data"}}, lambda m: m["team"] == "data"),
        ({"team": {"$ne": "ops"}}, lambda m: m["team"] != "ops"),
        ({"year": {"$gt": 2023}}, lambda m: m["year"] > 2023),
        ({"year": {"$gte": 2023}}, lambda m: m["year"] >= 2023),
        ({"year": {"$lt": 2022}}, lambda m: m["year"] < 2022),
        ({"year": {"$lte": 2022}}, lambda m: m["year"] <= 2022),
        ({"year": {"$gte": 2021, "$lt": 2023}}, lambda m: 2021 <= m["year"] < 2023),
        ({"score": {"$gt": 2.5, "$lte": 4.0}}, lambda m: 2.5 < m["score"] <= 4.0),
        ({"public": True}, lambda m: m["public"] is True),
        ({"team": {"$in": ["ops", "data"]}}, lambda m: m["team"] in ("ops", "data")),
        (
            {"team": {"$nin": ["ops", "data"]}},
            lambda m: m["team"] not in ("ops", "data"),
        ),
        ({"tags": {"$contains": "tag3"}}, lambda m: "tag3" in m["tags"]),
        ({"reviewer": {"$exists": True}}, lambda m: "reviewer" in m),
        ({"reviewer": {"$exists": False}}, lambda m: "reviewer" not in m),
        (
            {"team": "ops", "year": {"$gte": 2024}},
            lambda m: m["team"] == "ops" and m["year"] >= 2024,
        ),
        (
            {"$or": [{"team": "ops"}, {"public": True}]},
            lambda m: m["team"] == "ops" or m["public"],
        ),
    ],
)
def test_each_operator_selects_exactly_the_matching_rows(
    rows_index: Index, where: Mapping[str, object], check: object
) -> None:
    expected = matching(check)

    assert expected  # every case selects something, and not everything
    assert len(expected) < ROWS
    assert found(rows_index, where) == expected


def test_a_selective_filter_still_returns_k_results(rows_index: Index) -> None:
    where = {"team": "security", "year": {"$in": [2020, 2022, 2024]}}
    expected = matching(
        lambda m: m["team"] == "security" and m["year"] in (2020, 2022, 2024)
    )
    assert len(expected) >= 5

    for mode in ("hybrid", "vector", "lexical"):
        hits = rows_index.search("incident report", k=5, where=where, mode=mode)  # type: ignore[arg-type]
        assert len(hits) == 5, mode
        assert {hit.chunk.document for hit in hits} <= expected


def test_a_filter_that_matches_nothing_returns_nothing(rows_index: Index) -> None:
    assert rows_index.search("incident", where={"team": "legal"}) == []


def test_ask_uses_only_passages_that_pass_the_filter(rows_index: Index) -> None:
    answer = rows_index.ask(
        "What happened to the service?", k=4, where={"team": "data"}
    )

    assert answer.passages
    assert all(hit.chunk.metadata["team"] == "data" for hit in answer.passages)
    assert all(
        c.chunk is None or c.chunk.metadata["team"] == "data" for c in answer.citations
    )


def test_chat_sessions_keep_their_filter(rows_index: Index) -> None:
    session = rows_index.chat(k=3, where={"public": True})

    answer = session.ask("What happened in the incident?")

    assert all(hit.chunk.metadata["public"] is True for hit in answer.passages)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"team": {"$regex": "o.*"}}, "unknown filter operator '\\$regex'"),
        ({"year": {"$gt": True}}, "needs a number or a string"),
        ({"team": {"$in": "ops"}}, "needs a list of values"),
        ({"tags": {"$contains": 3}}, "needs a string"),
        ({"reviewer": {"$exists": "yes"}}, "needs true or false"),
        ({"team": {}}, "has no operators"),
        ({"$or": {"team": "ops"}}, "takes a non-empty list"),
        ({"team": {"x": 1}}, "unknown filter operator 'x'"),
        ({'bad"key': 1}, "may not contain"),
    ],
)
def test_bad_filters_are_config_errors(
    rows_index: Index, where: Mapping[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        rows_index.search("incident", where=where)
    with pytest.raises(ConfigError, match=message):
        rows_index.ask("incident?", where=where)
