"""The ingest run end to end against FakeOllama: incremental, resumable, honest."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import ragkit.documents._sources as _sources
from ragkit.embedding import Embedder
from ragkit.errors import ConfigError, IndexLockedError, IndexMismatchError
from ragkit.pipeline import IngestProgress, Pipeline, Recipe, ingest, load_recipe
from ragkit.store import Store
from ragkit.testing import FakeOllama, Faults

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small folder of documents; the working directory is its parent."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "alpha.md").write_text(
        "# Alpha\n\nAlpha keys rotate every ninety days.\n\n"
        "## Details\n\nRotation is automatic and logged.\n",
        encoding="utf-8",
    )
    (root / "beta.txt").write_text(
        "Beta deployments happen on Tuesdays after the change review.\n",
        encoding="utf-8",
    )
    (root / "sub").mkdir()
    (root / "sub" / "gamma.md").write_text(
        "# Gamma\n\nGamma incidents page the on-call engineer within five minutes.\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    return root


def embeds(server: FakeOllama) -> int:
    return server.counts("/api/embed")


def snapshot(index: Path) -> dict[str, tuple[str, bytes]]:
    """Every chunk id with its document and vector bytes: what "equal" means."""
    db = sqlite3.connect(index / "meta.sqlite")
    try:
        rows = db.execute(
            "SELECT c.chunk_id, d.path, v.vector FROM chunks c "
            "JOIN documents d ON d.id = c.document_id "
            "JOIN vectors v ON v.text_hash = c.text_hash"
        ).fetchall()
    finally:
        db.close()
    return {chunk_id: (path, bytes(vector)) for chunk_id, path, vector in rows}


def test_first_run_indexes_every_file_with_paths_relative_to_the_index_parent(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    report = Pipeline().run(corpus, host=fake_ollama.url)

    assert sorted(report.added) == [
        "docs/alpha.md",
        "docs/beta.txt",
        "docs/sub/gamma.md",
    ]
    assert report.skipped == [] and report.changed == [] and report.removed == []
    assert report.chunks >= 3 and report.requests >= 1
    with Store.open(".ragkit") as store:
        assert {r.path for r in store.documents()} == set(report.added)
        assert store.stats().chunks == report.chunks
        assert store.manifest.embed_model == "nomic-embed-text"
        assert store.manifest.dimension == 768
        assert store.manifest.document_prefix == "search_document: "


def test_unchanged_rerun_makes_no_embedding_request(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    before = embeds(fake_ollama)

    report = Pipeline().run(corpus, host=fake_ollama.url)

    assert embeds(fake_ollama) == before
    assert report.unchanged == 3 and report.added == [] and report.chunks == 0


def test_touched_file_with_same_content_is_not_re_embedded(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    before = embeds(fake_ollama)
    stat = (corpus / "beta.txt").stat()
    os.utime(corpus / "beta.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    report = Pipeline().run(corpus, host=fake_ollama.url)

    assert report.unchanged == 3 and report.changed == []
    assert embeds(fake_ollama) == before


def test_changed_file_replaces_its_chunks_and_embeds_only_new_text(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    fake_ollama.reset()
    (corpus / "beta.txt").write_text(
        "Beta deployments moved to Thursdays in March.\n", encoding="utf-8"
    )

    report = Pipeline().run(corpus, host=fake_ollama.url)

    assert report.changed == ["docs/beta.txt"] and report.unchanged == 2
    sent = [
        text
        for record in fake_ollama.requests
        if record.path == "/api/embed"
        for text in record.body["input"]
    ]
    assert sent == ["search_document: Beta deployments moved to Thursdays in March."]
    with Store.open(".ragkit") as store:
        hits = store.search_lexical("Thursdays", 5)
        assert [c.document for c in store.chunks([rowid for rowid, _ in hits])] == [
            "docs/beta.txt"
        ]
        assert store.search_lexical("Tuesdays", 5) == []


def test_deleted_file_leaves_the_index(corpus: Path, fake_ollama: FakeOllama) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    (corpus / "sub" / "gamma.md").unlink()

    report = Pipeline().run(corpus, host=fake_ollama.url)

    assert report.removed == ["docs/sub/gamma.md"]
    with Store.open(".ragkit") as store:
        assert store.document("docs/sub/gamma.md") is None
        assert store.search_lexical("incidents", 5) == []


def test_indexing_another_folder_keeps_the_first(
    corpus: Path, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    other = tmp_path / "notes"
    other.mkdir()
    (other / "n.md").write_text("Notes about the zebra migration.\n", encoding="utf-8")
    Pipeline().run(corpus, host=fake_ollama.url)

    report = Pipeline().run(other, host=fake_ollama.url)

    assert report.added == ["notes/n.md"] and report.removed == []
    with Store.open(".ragkit") as store:
        assert store.stats().documents == 4


def test_file_that_turns_unreadable_keeps_its_indexed_version(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    (corpus / "beta.txt").write_bytes(b"\x00\x01binary\x00" * 100)

    report = Pipeline().run(corpus, host=fake_ollama.url)

    assert [s.path for s in report.skipped] == ["docs/beta.txt"]
    assert "binary" in report.skipped[0].reason
    assert report.removed == []
    with Store.open(".ragkit") as store:
        assert store.document("docs/beta.txt") is not None


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_indexed(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    (corpus / "empty.md").write_text("", encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<\n")
    (corpus / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")

    report = Pipeline().run(corpus, host=fake_ollama.url)

    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"docs/empty.md", "docs/broken.pdf"}
    assert reasons["docs/empty.md"] == "empty file"
    assert "PDF" in reasons["docs/broken.pdf"] or "pdf" in reasons["docs/broken.pdf"]
    assert report.unsupported == 1
    assert len(report.added) == 3


def test_chunking_change_rechunks_and_reuses_identical_vectors(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    recipe = load_recipe("general")
    smaller = recipe.replace(
        chunking=type(recipe.chunking)(target_tokens=12, overlap_tokens=0, min_tokens=0)
    )

    report = Pipeline(smaller).run(corpus, host=fake_ollama.url)

    assert sorted(report.changed) == [
        "docs/alpha.md",
        "docs/beta.txt",
        "docs/sub/gamma.md",
    ]
    with Store.open(".ragkit") as store:
        assert store.manifest.chunking["target_tokens"] == 12


def test_another_embedding_model_is_refused_with_a_rebuild_hint(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)

    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Pipeline().with_embedding(model="all-minilm").run(corpus, host=fake_ollama.url)

    report = (
        Pipeline()
        .with_embedding(model="all-minilm")
        .run(corpus, host=fake_ollama.url, rebuild=True)
    )
    assert len(report.added) == 3
    with Store.open(".ragkit") as store:
        assert store.manifest.dimension == 384


def test_dry_run_writes_nothing(corpus: Path, fake_ollama: FakeOllama) -> None:
    report = Pipeline().run(corpus, host=fake_ollama.url, dry_run=True)

    assert report.dry_run and len(report.added) == 3
    assert not Path(".ragkit").exists()
    assert embeds(fake_ollama) == 0


def test_dry_run_reports_changes_against_an_existing_index(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    (corpus / "beta.txt").write_text("Different now.\n", encoding="utf-8")
    (corpus / "alpha.md").unlink()

    report = Pipeline().run(corpus, dry_run=True)

    assert report.changed == ["docs/beta.txt"]
    assert report.removed == ["docs/alpha.md"]
    with Store.open(".ragkit") as store:
        assert store.document("docs/alpha.md") is not None


def test_missing_path_is_a_config_error(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        Pipeline().run(tmp_path / "nowhere", host=fake_ollama.url)


def test_progress_events_arrive_and_end_with_done(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    events: list[IngestProgress] = []

    Pipeline().run(corpus, host=fake_ollama.url, progress=events.append)

    assert events and events[-1].phase == "done"
    assert events[-1].files_seen == 3 and events[-1].chunks_written >= 3
    # The total comes from a walk before the first file is read.
    assert {e.files_total for e in events} == {3}
    assert events[-1].seconds_left() == 0.0


def _progress(**changes: object) -> IngestProgress:
    values: dict[str, object] = {
        "phase": "indexing",
        "files_seen": 10,
        "files_done": 8,
        "chunks_queued": 100,
        "chunks_embedded": 50,
        "chunks_written": 40,
        "elapsed": 5.0,
        "files_total": 40,
    }
    values.update(changes)
    return IngestProgress(**values)  # type: ignore[arg-type]


def test_time_left_projects_the_chunks_to_come_from_the_files_to_read() -> None:
    # 10 of 40 files gave 100 chunks: about 400 in all, 350 to go at 10/s.
    assert _progress().seconds_left() == 35.0
    # Every chunk is queued once reading is over: 50 to go at 10/s.
    assert _progress(phase="embedding", files_seen=40).seconds_left() == 5.0
    assert _progress(phase="embedding", files_total=None).seconds_left() == 5.0
    # No estimate without a total while reading, or before a first vector.
    assert _progress(files_total=None).seconds_left() is None
    assert _progress(chunks_embedded=0).seconds_left() is None


def test_killed_run_resumes_without_re_embedding_and_equals_a_clean_run(
    corpus: Path, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    for i in range(30):
        (corpus / f"extra{i:02d}.md").write_text(
            f"# Extra {i}\n\nExtra document number {i} mentions topic {i * 7}.\n",
            encoding="utf-8",
        )
    clean_dir = tmp_path / "clean"
    Pipeline().run(corpus, index=clean_dir, host=fake_ollama.url)
    clean = snapshot(clean_dir)

    recipe = load_recipe("general")
    small_batches = Pipeline(
        recipe.replace(embedding=type(recipe.embedding)(batch_size=4))
    )

    def crash(event: IngestProgress) -> None:
        if event.chunks_written >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        small_batches.run(corpus, index="resumed", host=fake_ollama.url, progress=crash)
    fake_ollama.reset()

    report = small_batches.run(corpus, index="resumed", host=fake_ollama.url)

    assert report.unchanged > 0
    sent = sum(
        len(r.body["input"]) for r in fake_ollama.requests if r.path == "/api/embed"
    )
    assert sent < len(clean)
    assert snapshot(Path("resumed")) == clean


def test_faulty_server_still_produces_the_clean_index(
    corpus: Path, fake_ollama_factory, tmp_path: Path
) -> None:
    for i in range(20):
        (corpus / f"more{i:02d}.txt").write_text(
            f"Line {i} about the storage tier {i % 3} and replica {i}.\n",
            encoding="utf-8",
        )
    clean_server = fake_ollama_factory()
    Pipeline().run(corpus, index=tmp_path / "clean", host=clean_server.url)
    faulty = fake_ollama_factory(
        faults=Faults(error_rate=0.2, busy_rate=0.1, drop_rate=0.1, seed=7)
    )
    # Quick retries keep the test short; the policy itself is the embedder's.
    with Embedder(
        "nomic-embed-text", hosts=[faulty.url], batch_size=3, backoff=0.01
    ) as embedder:
        ingest([corpus], Recipe(), index=tmp_path / "faulty", embedder=embedder)

    assert snapshot(tmp_path / "faulty") == snapshot(tmp_path / "clean")


def test_two_hosts_share_the_work(corpus: Path, fake_ollama_factory) -> None:
    for i in range(40):
        (corpus / f"h{i:02d}.txt").write_text(
            f"Host test text {i}.\n", encoding="utf-8"
        )
    one, two = fake_ollama_factory(), fake_ollama_factory()
    recipe = load_recipe("general")
    settings = type(recipe.embedding)(batch_size=4, hosts=(one.url, two.url))

    report = Pipeline(recipe.replace(embedding=settings)).run(corpus)

    assert len(report.added) == 43
    assert embeds(one) > 0 and embeds(two) > 0


def test_second_writer_is_refused_while_the_first_holds_the_lock(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    Pipeline().run(corpus, host=fake_ollama.url)
    with Store.open(".ragkit", writable=True):
        with pytest.raises(IndexLockedError, match="writ"):
            Pipeline().run(corpus, host=fake_ollama.url)


def test_sample_docs_index_without_skips(
    tmp_path: Path, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(SAMPLE_DOCS, tmp_path / "sample_docs")
    monkeypatch.chdir(tmp_path)

    report = ingest(["sample_docs"], Recipe(), host=fake_ollama.url)

    assert report.skipped == []
    kinds = {p.rsplit(".", 1)[-1] for p in report.added}
    assert {"md", "pdf", "html", "txt", "rst"} <= kinds
    with Store.open(".ragkit") as store:
        pages = {c.page for c in store.chunks(range(1, store.stats().chunks + 1))}
        assert {1, 2} <= pages


def test_vectors_match_a_direct_embedding(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    from ragkit.testing._embedding import embed_text

    Pipeline().run(corpus, host=fake_ollama.url)
    with Store.open(".ragkit") as store:
        rowid, _ = store.search_lexical("Tuesdays", 1)[0]
        chunk = store.chunks([rowid])[0]
        query = embed_text("search_document: " + chunk.text, 768)
        best = store.search_vectors(query, 1)[0]
    assert best[0] == rowid
    assert np.isclose(best[1], 1.0, atol=1e-5)


def test_a_folder_that_vanishes_mid_run_loses_nothing_already_indexed(
    corpus: Path, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    Pipeline().run(corpus, index="idx", host=fake_ollama.url)
    real = _sources._scandir

    def vanishing(path: str) -> object:
        if Path(path).name == "sub":
            raise FileNotFoundError(2, "No such file or directory", path)
        return real(path)

    # The folder is gone by the time the walk reaches it.
    monkeypatch.setattr(_sources, "_scandir", vanishing)
    report = Pipeline().run(corpus, index="idx", host=fake_ollama.url)

    assert report.removed == []
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("docs/sub", "folder vanished during the walk")
    ]
    with Store.open("idx") as store:
        assert "docs/sub/gamma.md" in {d.path for d in store.documents()}
