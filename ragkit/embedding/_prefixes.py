"""Known query and document prefixes of popular embedding models."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelPrefixes", "base_model_name", "default_prefixes"]


@dataclass(frozen=True, slots=True)
class ModelPrefixes:
    """The text an embedding model expects in front of documents and queries.

    Attributes:
        document: Put in front of every passage that is indexed.
        query: Put in front of every search query.
        known: True when the model was found in ragkit's table; False means
            "no prefixes because ragkit does not know this model".
    """

    document: str = ""
    query: str = ""
    known: bool = False


_REPRESENT = "Represent this sentence for searching relevant passages: "
_WEB_SEARCH_TASK = (
    "Given a web search query, retrieve relevant passages that answer the query"
)

# Checked against the model cards (Hugging Face / ollama.com), first match wins,
# so more specific patterns come before the families they belong to:
# - nomic-embed-text v1/v1.5 and v2-moe are trained with task prefixes and
#   "search_document: " / "search_query: " is the retrieval pair.
# - mxbai-embed-large-v1, bge-{small,base,large}-en(-v1.5) and
#   snowflake-arctic-embed v1/v1.5 prepend one instruction to queries only.
# - snowflake-arctic-embed2 (l-v2.0) switched to "query: " for queries and
#   nothing for documents (its sentence-transformers prompts), unlike v1.
# - e5 (e5-*-v2, multilingual-e5-*) use "query: " / "passage: "; the
#   "-instruct" variants take an instruction before the query instead and
#   nothing before passages.
# - embeddinggemma documents "task: search result | query: " and
#   "title: none | text: " for retrieval.
# - qwen3-embedding puts an instruction before queries only; its card builds
#   f"Instruct: {task}\nQuery:{query}" with no space after the colon.
# - all-minilm, bge-m3, granite-embedding and paraphrase-multilingual are used
#   without prefixes; they are listed so that they count as known.
_TABLE: tuple[tuple[re.Pattern[str], ModelPrefixes], ...] = tuple(
    (re.compile(pattern), ModelPrefixes(document, query, known=True))
    for pattern, document, query in (
        (r"nomic-embed-text(-v[\d.]+)?(-moe)?", "search_document: ", "search_query: "),
        (r"mxbai-embed-large(-v\d+)?", "", _REPRESENT),
        (r"snowflake-arctic-embed2(-.*)?", "", "query: "),
        (r"snowflake-arctic-embed(-.*)?", "", _REPRESENT),
        (r"bge-m3(-.*)?", "", ""),
        (r"bge-(small|base|large)(-en)?(-v1\.5)?", "", _REPRESENT),
        (r"(.*-)?e5(-.*)?-instruct", "", f"Instruct: {_WEB_SEARCH_TASK}\nQuery: "),
        (r"(.*-)?e5(-.*)?", "passage: ", "query: "),
        (
            r"embeddinggemma(-.*)?",
            "title: none | text: ",
            "task: search result | query: ",
        ),
        (r"qwen3-embedding(-.*)?", "", f"Instruct: {_WEB_SEARCH_TASK}\nQuery:"),
        (r"all-minilm(-.*)?", "", ""),
        (r"granite-embedding(-.*)?", "", ""),
        (r"paraphrase-multilingual(-.*)?", "", ""),
    )
)


def base_model_name(model: str) -> str:
    """The model's own name: no registry host, namespace or tag, lower case.

    Examples:
        >>> base_model_name("Nomic-Embed-Text:latest")
        'nomic-embed-text'
        >>> base_model_name("registry.example:5000/team/bge-m3:567m")
        'bge-m3'
    """
    name = model.strip().lower().rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


def default_prefixes(model: str) -> ModelPrefixes:
    """The prefixes ragkit uses for ``model`` unless told otherwise.

    The model is matched on its base name (see :func:`base_model_name`), so
    tags, namespaces and case do not matter.

    Args:
        model: An Ollama model name such as ``"nomic-embed-text:v1.5"``.

    Returns:
        The known prefixes, or empty ones with ``known=False``.

    Examples:
        >>> default_prefixes("nomic-embed-text").query
        'search_query: '
        >>> default_prefixes("my-own-model")
        ModelPrefixes(document='', query='', known=False)
    """
    name = base_model_name(model)
    for pattern, prefixes in _TABLE:
        if pattern.fullmatch(name):
            return prefixes
    return ModelPrefixes()
