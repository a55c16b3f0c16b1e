"""The table of known query/document prefixes and how model names are matched."""

from __future__ import annotations

import pytest

from ragkit.embedding import ModelPrefixes, base_model_name, default_prefixes

REPRESENT = "Represent this sentence for searching relevant passages: "


@pytest.mark.parametrize(
    ("model", "document", "query"),
    [
        ("nomic-embed-text", "search_document: ", "search_query: "),
        ("nomic-embed-text:v1.5", "search_document: ", "search_query: "),
        ("NOMIC-EMBED-TEXT:latest", "search_document: ", "search_query: "),
        ("nomic-embed-text-v2-moe", "search_document: ", "search_query: "),
        ("mxbai-embed-large", "", REPRESENT),
        ("mxbai-embed-large:335m", "", REPRESENT),
        ("snowflake-arctic-embed:137m", "", REPRESENT),
        ("snowflake-arctic-embed2", "", "query: "),
        ("bge-large", "", REPRESENT),
        ("bge-base-en-v1.5", "", REPRESENT),
        ("bge-m3", "", ""),
        ("jeffh/intfloat-multilingual-e5-large:f16", "passage: ", "query: "),
        ("e5-large-v2", "passage: ", "query: "),
        ("embeddinggemma", "title: none | text: ", "task: search result | query: "),
        ("all-minilm:33m", "", ""),
        ("granite-embedding:278m", "", ""),
    ],
)
def test_known_models_get_their_prefixes(model: str, document: str, query: str) -> None:
    prefixes = default_prefixes(model)
    assert prefixes == ModelPrefixes(document, query, known=True)


def test_instruction_models_prefix_queries_only() -> None:
    qwen = default_prefixes("qwen3-embedding:8b")
    assert qwen.document == ""
    assert qwen.query.startswith("Instruct: Given a web search query")
    assert qwen.query.endswith("\nQuery:")
    e5_instruct = default_prefixes("multilingual-e5-large-instruct")
    assert e5_instruct.document == ""
    assert e5_instruct.query.startswith("Instruct: ")


def test_unknown_model_has_no_prefixes_and_says_so() -> None:
    assert default_prefixes("my-own-embedder") == ModelPrefixes("", "", known=False)
    # A name that merely contains a known one is not that model.
    assert not default_prefixes("not-nomic-embed-text-really").known


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("nomic-embed-text", "nomic-embed-text"),
        (" Nomic-Embed-Text:Latest ", "nomic-embed-text"),
        ("library/bge-m3:567m", "bge-m3"),
        ("localhost:5000/team/all-minilm:l6", "all-minilm"),
    ],
)
def test_base_model_name_drops_host_namespace_and_tag(name: str, base: str) -> None:
    assert base_model_name(name) == base
