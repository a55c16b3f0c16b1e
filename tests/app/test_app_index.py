"""``ragkit.Index``: opening, adding, deleting, searching and asking, synchronously."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import TEXTS, embed_requests

from ragkit import (
    ConfigError,
    Document,
    Index,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IngestProgress,
    ModelNotFoundError,
    Pipeline,
    QueryError,
    StoreError,
)
from ragkit.app import default_id
from ragkit.testing import FakeOllama

# -- adding ------------------------------------------------------------------


def test_add_texts_then_search_and_ask(memory_index: Index) -> None:
    report = memory_index.add(TEXTS)

    assert report.ids == [default_id(text) for text in TEXTS]
    assert report.added == report.ids and report.changed == []
    assert report.chunks == 4 and report.embedded == 4 and report.requests == 1
    hits = memory_index.search("How often are API keys rotated?", k=2)
    assert hits[0].chunk.document == default_id(TEXTS[1])
    answer = memory_index.ask("How often are API keys rotated?")
    [citation] = answer.verified_citations
    assert citation.path == default_id(TEXTS[1])
    assert "every 90 days" in answer.text
    stats = memory_index.stats()
    assert (stats.documents, stats.chunks, stats.path) == (4, 4, None)


def test_adding_the_same_texts_again_costs_nothing(
    memory_index: Index, fake_ollama: FakeOllama
) -> None:
    memory_index.add(TEXTS)
    before = embed_requests(fake_ollama)

    again = memory_index.add(TEXTS)

    assert again.unchanged == 4 and again.added == [] and again.changed == []
    assert embed_requests(fake_ollama) == before
    assert memory_index.stats().documents == 4


def test_new_metadata_replaces_a_document_and_reuses_its_vector(
    memory_index: Index, fake_ollama: FakeOllama
) -> None:
    memory_index.add(TEXTS[:1], metadata={"team": "ops"})
    before = embed_requests(fake_ollama)

    report = memory_index.add(TEXTS[:1], metadata={"team": "infra"})

    assert report.changed == [default_id(TEXTS[0])] and report.reused == 1
    assert embed_requests(fake_ollama) == before
    [hit] = memory_index.search("backups", k=1)
    assert dict(hit.chunk.metadata) == {"team": "infra"}


def test_given_ids_and_documents(memory_index: Index) -> None:
    document = Document(
        path="wiki/backups",
        text=TEXTS[0],
        kind="markdown",
        title="Backups",
        metadata={"team": "ops", "reviewed": True},
    )
    report = memory_index.add(
        [document, TEXTS[1]], ids=["wiki/backups", "wiki/keys"], metadata=[None, {}]
    )

    assert report.ids == ["wiki/backups", "wiki/keys"]
    hits = memory_index.search("backups nightly", k=1, kinds=["markdown"])
    assert hits[0].chunk.document == "wiki/backups"
    assert dict(hits[0].chunk.metadata) == {"team": "ops", "reviewed": True}
    assert memory_index.search("keys", paths=["wiki/keys"])[0].chunk.document == (
        "wiki/keys"
    )


def test_a_long_text_becomes_several_chunks(memory_index: Index) -> None:
    sentences = [
        f"Paragraph {n} talks about topic number {n} at length." for n in range(400)
    ]
    report = memory_index.add(["\n\n".join(sentences)], ids=["long"])

    assert report.chunks > 1
    assert memory_index.stats().documents == 1


def test_progress_events_count_documents_and_end_with_done(
    memory_index: Index,
) -> None:
    events: list[IngestProgress] = []

    memory_index.add(TEXTS, progress=events.append)

    assert events[-1].phase == "done"
    assert events[-1].files_seen == 4 and events[-1].chunks_written == 4
    assert {event.phase for event in events} <= {"indexing", "embedding", "done"}


def test_empty_list_adds_nothing(memory_index: Index, fake_ollama: FakeOllama) -> None:
    report = memory_index.add([])

    assert report.ids == [] and report.chunks == 0
    assert embed_requests(fake_ollama) == 0


# -- bad input to add ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"texts_or_documents": "one text"}, "list of texts"),
        ({"texts_or_documents": [TEXTS[0], 42]}, "item #1 is a int"),
        ({"texts_or_documents": ["  "]}, "item #0 has no text"),
        ({"texts_or_documents": TEXTS, "ids": ["a"]}, "1 ids for 4 items"),
        ({"texts_or_documents": TEXTS[:1], "ids": "a"}, "ids must be a list"),
        ({"texts_or_documents": TEXTS[:1], "ids": [""]}, "id #0 must be"),
        ({"texts_or_documents": TEXTS, "metadata": [{}]}, "1 metadata mappings"),
        ({"texts_or_documents": TEXTS[:1], "metadata": "x"}, "must be a mapping"),
        ({"texts_or_documents": TEXTS[:1], "metadata": [3]}, "metadata #0 must be"),
        ({"texts_or_documents": TEXTS[:1], "metadata": {"a": {"b": 1}}}, "has a dict"),
        ({"texts_or_documents": TEXTS[:1], "metadata": {"a": None}}, "has a NoneType"),
        ({"texts_or_documents": TEXTS[:1], "metadata": {"a": [1, 2]}}, "has a list"),
        ({"texts_or_documents": TEXTS[:1], "metadata": {"a": float("nan")}}, "finite"),
        ({"texts_or_documents": TEXTS[:1], "metadata": {"$a": 1}}, "start with '\\$'"),
        ({"texts_or_documents": TEXTS[:1], "metadata": {1: "x"}}, "non-empty strings"),
        ({"texts_or_documents": 42}, "not int"),
        ({"texts_or_documents": [Document(path=" ", text="x")]}, "empty id"),
    ],
)
def test_bad_input_to_add_is_a_config_error_and_writes_nothing(
    memory_index: Index,
    fake_ollama: FakeOllama,
    kwargs: dict[str, object],
    message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        memory_index.add(**kwargs)  # type: ignore[arg-type]

    assert memory_index.stats().documents == 0
    assert embed_requests(fake_ollama) == 0


def test_one_id_for_two_different_texts_is_refused_before_anything_is_written(
    memory_index: Index, fake_ollama: FakeOllama
) -> None:
    items = [TEXTS[0], TEXTS[1], TEXTS[2]]
    with pytest.raises(ConfigError, match="items #0 and #2 have the same id 'a'"):
        memory_index.add(items, ids=["a", "b", "a"])

    assert memory_index.stats().documents == 0
    assert embed_requests(fake_ollama) == 0


def test_one_id_with_equal_content_twice_is_one_document(memory_index: Index) -> None:
    report = memory_index.add([TEXTS[0], TEXTS[0]])

    assert report.ids == [default_id(TEXTS[0])] * 2
    assert report.added == [default_id(TEXTS[0])]
    assert memory_index.stats().documents == 1


def test_same_id_with_other_metadata_in_one_call_is_a_collision(
    memory_index: Index,
) -> None:
    with pytest.raises(ConfigError, match="same id"):
        memory_index.add([TEXTS[0], TEXTS[0]], metadata=[{"v": 1}, {"v": 2}])


# -- deleting ----------------------------------------------------------------


def test_delete_by_ids_and_by_metadata(memory_index: Index) -> None:
    memory_index.add(
        TEXTS, metadata=[{"team": "ops"}, {"team": "platform"}, {"team": "ops"}, {}]
    )

    assert memory_index.delete(where={"team": "ops"}) == 2
    assert memory_index.delete(ids=[default_id(TEXTS[1]), "missing"]) == 1
    assert memory_index.stats().documents == 1
    assert memory_index.delete(ids=["missing"]) == 0
    assert memory_index.delete(where={"team": "nobody"}) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either ids"),
        ({"ids": ["a"], "where": {"a": 1}}, "either ids"),
        ({"ids": "abc"}, "ids must be a list"),
        ({"ids": [1]}, "ids must be strings"),
        ({"where": {}}, "at least one condition"),
        ({"where": {"team": {"$like": "o%"}}}, "unknown filter operator '\\$like'"),
        ({"where": {"year": {"$gt": [1]}}}, "needs a number or a string"),
    ],
)
def test_bad_input_to_delete_is_a_config_error(
    memory_index: Index, kwargs: dict[str, object], message: str
) -> None:
    memory_index.add(TEXTS, metadata={"team": "ops"})

    with pytest.raises(ConfigError, match=message):
        memory_index.delete(**kwargs)  # type: ignore[arg-type]

    assert memory_index.stats().documents == 4


# -- on disk: open, create, the write lock -------------------------------------


def test_create_reopen_read_only_and_search(
    index_path: Path, fake_ollama: FakeOllama
) -> None:
    with Index.create(index_path, host=fake_ollama.url) as index:
        index.add(TEXTS)
    assert (index_path / "vectors.faiss").is_file()

    with Index.open(index_path, host=fake_ollama.url) as index:
        assert not index.writable and index.path == index_path
        assert index.search("backups", k=1)[0].chunk.text == TEXTS[0]
        with pytest.raises(StoreError, match="opened read-only"):
            index.add(["more"])
        with pytest.raises(StoreError, match="opened read-only"):
            index.delete(ids=["x"])
        with pytest.raises(StoreError, match="opened read-only"):
            index.add_files([index_path])


def test_create_refuses_an_existing_index_unless_told(
    index_path: Path, fake_ollama: FakeOllama
) -> None:
    with Index.create(index_path, host=fake_ollama.url) as index:
        index.add(TEXTS)
    with pytest.raises(StoreError, match="already exists"):
        Index.create(index_path, host=fake_ollama.url)
    with Index.create(index_path, host=fake_ollama.url, exist_ok=True) as index:
        assert index.stats().documents == 4
    with Index.create(index_path, host=fake_ollama.url, overwrite=True) as index:
        assert index.stats().documents == 0


def test_exist_ok_with_another_embedding_model_is_refused(
    index_path: Path, fake_ollama: FakeOllama
) -> None:
    Index.create(index_path, host=fake_ollama.url).close()
    with pytest.raises(IndexMismatchError, match="nomic-embed-text"):
        Index.create(
            index_path, host=fake_ollama.url, embed_model="all-minilm", exist_ok=True
        )


def test_missing_index_and_missing_model(
    index_path: Path, fake_ollama: FakeOllama
) -> None:
    with pytest.raises(IndexNotFoundError, match="no index at"):
        Index.open(index_path, host=fake_ollama.url)
    with pytest.raises(ModelNotFoundError, match="ollama pull no-such-model"):
        Index.memory(host=fake_ollama.url, embed_model="no-such-model")


def test_two_writers_the_second_is_refused_until_the_first_closes(
    index_path: Path, fake_ollama: FakeOllama
) -> None:
    first = Index.create(index_path, host=fake_ollama.url)
    try:
        with pytest.raises(IndexLockedError, match="already open for writing"):
            Index.open(index_path, writable=True, host=fake_ollama.url)
        with Index.open(index_path, host=fake_ollama.url) as reader:
            assert reader.stats().documents == 0
        first.add(TEXTS)
    finally:
        first.close()
    with Index.open(index_path, writable=True, host=fake_ollama.url) as second:
        assert second.delete(ids=[default_id(TEXTS[0])]) == 1


def test_a_closed_index_refuses_every_call(memory_index: Index) -> None:
    memory_index.add(TEXTS)
    memory_index.close()
    memory_index.close()

    assert memory_index.closed
    calls = [
        lambda: memory_index.add(["x"]),
        lambda: memory_index.add_files(["."]),
        lambda: memory_index.delete(ids=["x"]),
        lambda: memory_index.search("x"),
        lambda: memory_index.ask("x"),
        lambda: memory_index.ask_stream("x"),
        lambda: memory_index.chat(),
        memory_index.stats,
    ]
    for call in calls:
        with pytest.raises(StoreError, match="index is closed"):
            call()


# -- files ---------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(
        "# Guide\n\nAPI keys are rotated every 90 days by the platform team.\n",
        encoding="utf-8",
    )
    (docs / "notes.txt").write_text("Backups run nightly at 02:00 UTC.\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    return docs


def test_add_files_is_the_cli_ingest(folder: Path, fake_ollama: FakeOllama) -> None:
    events: list[IngestProgress] = []
    with Index.create(".ragkit", host=fake_ollama.url) as index:
        report = index.add_files([folder], progress=events.append)
        assert sorted(report.added) == ["docs/guide.md", "docs/notes.txt"]
        assert events[-1].phase == "done"
        index.add(["An app note about the guide."], ids=["app/note"])

        (folder / "notes.txt").unlink()
        again = index.add_files([folder])
        assert again.removed == ["docs/notes.txt"] and again.unchanged == 1
        assert index.search("note about the guide", k=1)[0].chunk.document == (
            "app/note"
        )


def test_add_files_dry_run_rebuild_and_preview(
    folder: Path, fake_ollama: FakeOllama
) -> None:
    preview = Index.preview(".ragkit", [folder])
    assert preview.dry_run and len(preview.added) == 2
    assert not Path(".ragkit").exists()

    with Index.create(".ragkit", host=fake_ollama.url) as index:
        index.add_files([folder])
        index.add(TEXTS[:1])
        (folder / "notes.txt").write_text("Backups moved to 03:00.\n", "utf-8")
        before = embed_requests(fake_ollama)
        dry = index.add_files([folder], dry_run=True)
        assert dry.changed == ["docs/notes.txt"]
        assert embed_requests(fake_ollama) == before
        with pytest.raises(ConfigError, match="cannot be used together"):
            index.add_files([folder], rebuild=True, dry_run=True)

        rebuilt = index.add_files([folder], rebuild=True)
        assert sorted(rebuilt.added) == ["docs/guide.md", "docs/notes.txt"]
        assert index.stats().documents == 2


def test_add_files_with_another_pipeline(folder: Path, fake_ollama: FakeOllama) -> None:
    with Index.create(".ragkit", host=fake_ollama.url) as index:
        report = index.add_files([folder], pipeline="docs")
        assert "docs/guide.md" in report.added
        assert index.manifest.pipeline == "docs"
        with pytest.raises(IndexMismatchError, match="all-minilm"):
            index.add_files(
                [folder], pipeline=Pipeline().with_embedding(model="all-minilm")
            )
        with pytest.raises(ConfigError, match="document_prefix"):
            index.add_files(
                [folder], pipeline=Pipeline().with_embedding(document_prefix="doc: ")
            )


def test_memory_index_names_files_relative_to_the_current_folder(
    folder: Path, memory_index: Index
) -> None:
    report = memory_index.add_files([folder])

    assert sorted(report.added) == ["docs/guide.md", "docs/notes.txt"]


# -- search errors -------------------------------------------------------------


def test_search_errors(memory_index: Index) -> None:
    with pytest.raises(QueryError, match="is empty"):
        memory_index.search("anything")
    memory_index.add(TEXTS)
    with pytest.raises(QueryError, match="empty"):
        memory_index.search("  ")
    with pytest.raises(ConfigError, match="unknown filter operator"):
        memory_index.search("keys", where={"team": {"$regex": "o"}})
    with pytest.raises(ConfigError, match="unknown search mode"):
        memory_index.search("keys", mode="fuzzy")  # type: ignore[arg-type]


def test_bad_settings_are_config_errors(fake_ollama: FakeOllama, folder: Path) -> None:
    with pytest.raises(ConfigError, match="pipeline must be"):
        Index.memory(host=fake_ollama.url, pipeline=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not one string"):
        Index.memory(host=fake_ollama.url, hosts=fake_ollama.url)
    with pytest.raises(ConfigError, match="chat model name is required"):
        Index.memory(host=fake_ollama.url, chat_model=" ")
    with pytest.raises(ConfigError, match="unknown index type"):
        Index.memory(host=fake_ollama.url, index_type="annoy")
    with pytest.raises(ConfigError, match="as a list"):
        Index.preview(".ragkit", "docs")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no such file or folder"):
        Index.preview(".ragkit", ["nowhere"])
    with Index.memory(host=fake_ollama.url) as index:
        with pytest.raises(ConfigError, match="no pipeline recipe named"):
            index.add_files([folder], pipeline="nonexistent")
        with pytest.raises(ConfigError, match="no such file or folder"):
            index.add_files(["nowhere"])
