"""Chunk filters: path globs, kinds, and each metadata operator."""

from __future__ import annotations

import pytest
from store_helpers import add_document

from ragkit.errors import ConfigError
from ragkit.store import ChunkFilter, Store, check_metadata
from ragkit.store._filter import glob_to_regex, regexp

DOCS = {
    "README.md": ("markdown", {"team": "infra", "year": 2023, "tags": ["intro"]}),
    "docs/guide.md": (
        "markdown",
        {
            "team": "infra",
            "year": 2024,
            "score": 4.5,
            "draft": False,
            "tags": ["guide", "setup"],
        },
    ),
    "docs/api/client.md": (
        "markdown",
        {"team": "web", "year": 2025, "score": 3, "draft": True, "tags": ["api"]},
    ),
    "papers/attention.pdf": ("pdf", {"team": "research", "year": 2017}),
    "src/app.PY": ("code", {"team": "web", "owner": "ann", "year": "2024"}),
}


@pytest.fixture
def docs_store(any_store: Store) -> Store:
    for path, (kind, metadata) in DOCS.items():
        add_document(
            any_store,
            path,
            [f"{path} part 1", f"{path} part 2"],
            kind=kind,
            metadata=metadata,
        )
    return any_store


def paths(store: Store, **filter_args: object) -> set[str]:
    ids = store.select_ids(ChunkFilter(**filter_args))  # type: ignore[arg-type]
    assert ids is not None
    chunks = store.chunks(ids.tolist())
    assert len(chunks) % 2 == 0 and len(chunks) == len(ids)
    return {c.document for c in chunks}


def test_empty_filter_means_everything(docs_store: Store) -> None:
    assert ChunkFilter().is_empty
    assert docs_store.select_ids(ChunkFilter()) is None


def test_select_ids_is_sorted_int64(docs_store: Store) -> None:
    ids = docs_store.select_ids(ChunkFilter(kinds=("markdown",)))
    assert ids is not None and ids.dtype.name == "int64"
    assert ids.tolist() == sorted(ids.tolist()) and len(ids) == 6


@pytest.mark.parametrize(
    ("globs", "expected"),
    [
        (("*.md",), {"README.md", "docs/guide.md", "docs/api/client.md"}),
        (("docs/*.md",), {"docs/guide.md"}),
        (("docs/**/*.md",), {"docs/guide.md", "docs/api/client.md"}),
        (("docs/**",), {"docs/guide.md", "docs/api/client.md"}),
        (("docs/",), {"docs/guide.md", "docs/api/client.md"}),
        (("api/",), {"docs/api/client.md"}),
        (("**/client.md",), {"docs/api/client.md"}),
        (("./README.md",), {"README.md"}),
        (("/README.md",), {"README.md"}),
        (("papers/*.pdf", "src/*"), {"papers/attention.pdf", "src/app.PY"}),
        (("?EADME.md",), {"README.md"}),
        (("[RX]EADME.md",), {"README.md"}),
        (("[!R]EADME.md",), set()),
        (("*.txt",), set()),
        (("docs/guide.m",), set()),
    ],
)
def test_path_globs(
    docs_store: Store, globs: tuple[str, ...], expected: set[str]
) -> None:
    assert paths(docs_store, paths=globs) == expected


def test_glob_translation() -> None:
    assert glob_to_regex("a/**/b") == "^a/(?:.*/)?b$"
    assert regexp(glob_to_regex("a/**/b"), "a/b")
    assert regexp(glob_to_regex("a/**/b"), "a/x/y/b")
    assert not regexp(glob_to_regex("a/*/b"), "a/x/y/b")
    assert regexp(glob_to_regex("a+b(1).md"), "a+b(1).md")
    assert not regexp(glob_to_regex("a.md"), "aXmd")
    assert not regexp("x", None)
    with pytest.raises(ConfigError, match="empty"):
        glob_to_regex("./")


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (("pdf",), {"papers/attention.pdf"}),
        ((".md",), {"README.md", "docs/guide.md", "docs/api/client.md"}),
        (("py",), {"src/app.PY"}),
        (("code", "PDF"), {"src/app.PY", "papers/attention.pdf"}),
        (("txt",), set()),
    ],
)
def test_kinds(docs_store: Store, kinds: tuple[str, ...], expected: set[str]) -> None:
    assert paths(docs_store, kinds=kinds) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"team": "infra"}, {"README.md", "docs/guide.md"}),
        ({"team": {"$eq": "web"}}, {"docs/api/client.md", "src/app.PY"}),
        (
            {"team": {"$ne": "infra"}},
            {"docs/api/client.md", "papers/attention.pdf", "src/app.PY"},
        ),
        ({"year": 2024}, {"docs/guide.md"}),
        ({"year": "2024"}, {"src/app.PY"}),
        ({"year": {"$gt": 2023}}, {"docs/guide.md", "docs/api/client.md"}),
        ({"year": {"$gte": 2023, "$lt": 2025}}, {"README.md", "docs/guide.md"}),
        ({"year": {"$lte": 2017}}, {"papers/attention.pdf"}),
        ({"score": {"$gt": 3.5}}, {"docs/guide.md"}),
        ({"score": {"$lte": 3.0}}, {"docs/api/client.md"}),
        ({"score": 3.0}, {"docs/api/client.md"}),
        ({"owner": {"$gte": "a"}}, {"src/app.PY"}),
        ({"draft": True}, {"docs/api/client.md"}),
        ({"draft": False}, {"docs/guide.md"}),
        (
            {"draft": {"$ne": True}},
            {"README.md", "docs/guide.md", "papers/attention.pdf", "src/app.PY"},
        ),
        (
            {"team": {"$in": ["web", "research"]}},
            {"docs/api/client.md", "papers/attention.pdf", "src/app.PY"},
        ),
        (
            {"year": {"$in": [2017, 2025]}},
            {"papers/attention.pdf", "docs/api/client.md"},
        ),
        ({"team": {"$in": []}}, set()),
        ({"team": {"$nin": ["infra", "web"]}}, {"papers/attention.pdf"}),
        ({"team": {"$nin": []}}, set(DOCS)),
        ({"tags": {"$contains": "setup"}}, {"docs/guide.md"}),
        ({"tags": {"$contains": "set"}}, set()),
        ({"team": {"$contains": "infra"}}, set()),
        ({"tags": ["guide", "setup"]}, {"docs/guide.md"}),
        ({"tags": ["setup", "guide"]}, set()),
        ({"owner": {"$exists": True}}, {"src/app.PY"}),
        ({"tags": {"$exists": False}}, {"papers/attention.pdf", "src/app.PY"}),
        ({"team": "infra", "year": 2023}, {"README.md"}),
        (
            {"$or": [{"team": "research"}, {"draft": True}]},
            {"papers/attention.pdf", "docs/api/client.md"},
        ),
        ({"$and": [{"team": "web"}, {"year": {"$gt": 2024}}]}, {"docs/api/client.md"}),
        (
            {
                "$or": [
                    {"year": {"$lt": 2020}},
                    {"$and": [{"team": "infra"}, {"year": 2024}]},
                ]
            },
            {"papers/attention.pdf", "docs/guide.md"},
        ),
    ],
)
def test_metadata_operators(
    docs_store: Store, where: dict[str, object], expected: set[str]
) -> None:
    assert paths(docs_store, where=where) == expected


def test_parts_combine_with_and(docs_store: Store) -> None:
    assert paths(
        docs_store,
        paths=("docs/**",),
        kinds=("markdown",),
        where={"year": {"$gte": 2025}},
    ) == {"docs/api/client.md"}
    assert paths(docs_store, paths=("*.md",), where={"team": "research"}) == set()


def test_chunk_metadata_is_what_filters_see(any_store: Store) -> None:
    add_document(any_store, "a.txt", ["x"], metadata={"lang": "en"})
    add_document(any_store, "b.txt", ["y"], metadata={"lang": "de"})
    ids = any_store.select_ids(ChunkFilter(where={"lang": "de"}))
    assert ids is not None
    assert [c.document for c in any_store.chunks(ids.tolist())] == ["b.txt"]


def test_filter_is_frozen_and_hashable() -> None:
    flt = ChunkFilter(paths=["a/*"], kinds=["md"], where={"x": 1})  # type: ignore[arg-type]
    assert flt.paths == ("a/*",) and flt.kinds == ("md",)
    assert hash(flt) == hash(ChunkFilter(paths=("a/*",), kinds=("md",)))
    with pytest.raises(TypeError):
        flt.where["y"] = 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"where": {"year": {"$regex": "x"}}}, "unknown filter operator '\\$regex'"),
        ({"where": {"$not": {"a": 1}}}, "start with"),
        ({"where": {"year": {"$gt": True}}}, "number or a string"),
        ({"where": {"year": {"$gt": [1]}}}, "number or a string"),
        ({"where": {"year": {"$in": 2024}}}, "needs a list"),
        ({"where": {"year": {"$in": [[1]]}}}, "scalar values"),
        ({"where": {"tags": {"$contains": 1}}}, "needs a string"),
        ({"where": {"tags": {"$exists": "yes"}}}, "true or false"),
        ({"where": {"tags": {}}}, "no operators"),
        ({"where": {"tags": None}}, "NoneType"),
        ({"where": {"tags": {"$eq": {"a": 1}}}}, "dict"),
        ({"where": {"$or": []}}, "non-empty list"),
        ({"where": {"$or": {"a": 1}}}, "non-empty list"),
        ({"where": {"$and": [{}]}}, "non-empty mapping"),
        ({"where": {'a"b': 1}}, "may not contain"),
        ({"where": {"n": 2**70}}, "64 bits"),
        ({"where": ["a"]}, "must be a mapping"),
        ({"paths": "docs/*"}, "list of strings"),
        ({"paths": ("",)}, "non-empty strings"),
        ({"kinds": (1,)}, "non-empty strings"),
    ],
)
def test_bad_filters_raise_config_error(args: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ChunkFilter(**args)  # type: ignore[arg-type]


def test_select_ids_cache_follows_writes(any_store: Store) -> None:
    add_document(any_store, "a.txt", ["x"], metadata={"team": "infra"})
    flt = ChunkFilter(where={"team": "infra"})
    first = any_store.select_ids(flt)
    assert first is not None and len(first) == 1
    assert any_store.select_ids(ChunkFilter(where={"team": "infra"})) is first
    with pytest.raises(ValueError):
        first[0] = 5
    add_document(any_store, "b.txt", ["y"], metadata={"team": "infra"})
    second = any_store.select_ids(flt)
    assert second is not None and len(second) == 2
    # Equal filters share an entry; different ones do not collide.
    other = any_store.select_ids(ChunkFilter(where={"team": "web"}))
    assert other is not None and len(other) == 0


def test_check_metadata_returns_the_stored_form_or_says_what_is_wrong() -> None:
    assert check_metadata({"tags": ("a", "b"), "n": 2}, where="row 1") == {
        "tags": ["a", "b"],
        "n": 2,
    }
    with pytest.raises(ConfigError, match="row 1"):
        check_metadata({"when": object()}, where="row 1")
