"""The query engine: retrieval, grounded answers with verified citations, chat.

::

    with QueryEngine.open(".ragkit", model="llama3.2") as engine:
        answer = engine.ask("How do I rotate the API keys?")
        for citation in answer.verified_citations:
            print(citation.path, citation.line_start, citation.quote)
"""

from __future__ import annotations

from ragkit.query._citations import (
    ANSWER_SCHEMA,
    FALLBACK_WARNING,
    MIN_QUOTE_CHARS,
    MIN_QUOTE_WORDS,
    ParsedAnswer,
    RawCitation,
    fallback_answer,
    fallback_text,
    format_source,
    normalise,
    parse_answer,
    verify_citations,
)
from ragkit.query._engine import (
    DEFAULT_ANSWER_TOKENS,
    DEFAULT_CHAT_MODEL,
    DEFAULT_CONTEXT_TOKENS,
    AnswerDelta,
    AnswerEvent,
    AnswerRetry,
    ChatSession,
    QueryEngine,
    context_tokens,
)
from ragkit.query._fusion import (
    RRF_K,
    apply_threshold,
    fuse_hits,
    mmr,
    reciprocal_rank_fusion,
)
from ragkit.query._partial_json import AnswerStreamParser
from ragkit.query._passages import dedupe_hits, merge_neighbours
from ragkit.query._prompt import (
    MESSAGE_OVERHEAD,
    NO_ANSWER,
    REWRITE_PROMPT,
    SOURCES_HEADING,
    SYSTEM_PROMPT,
    PromptBuild,
    approx_tokens,
    build_messages,
    clean_rewrite,
    rewrite_messages,
)
from ragkit.query._retrieval import (
    HYBRID_DEPTH,
    MERGE_MAX_CHARS,
    MMR_POOL,
    SEARCH_MODES,
    STOP_WORDS,
    Retriever,
    SearchMode,
    SearchSettings,
    empty_index_message,
    lexical_query,
)
from ragkit.query._serialize import (
    answer_to_dict,
    chunk_to_dict,
    citation_location,
    citation_to_dict,
    hit_to_dict,
)

__all__ = [
    "ANSWER_SCHEMA",
    "AnswerDelta",
    "AnswerEvent",
    "AnswerRetry",
    "AnswerStreamParser",
    "ChatSession",
    "DEFAULT_ANSWER_TOKENS",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_CONTEXT_TOKENS",
    "FALLBACK_WARNING",
    "HYBRID_DEPTH",
    "MERGE_MAX_CHARS",
    "MESSAGE_OVERHEAD",
    "MIN_QUOTE_CHARS",
    "MIN_QUOTE_WORDS",
    "MMR_POOL",
    "NO_ANSWER",
    "ParsedAnswer",
    "PromptBuild",
    "QueryEngine",
    "REWRITE_PROMPT",
    "RRF_K",
    "RawCitation",
    "Retriever",
    "SEARCH_MODES",
    "SOURCES_HEADING",
    "STOP_WORDS",
    "SYSTEM_PROMPT",
    "SearchMode",
    "SearchSettings",
    "answer_to_dict",
    "apply_threshold",
    "approx_tokens",
    "build_messages",
    "chunk_to_dict",
    "citation_location",
    "citation_to_dict",
    "clean_rewrite",
    "context_tokens",
    "dedupe_hits",
    "empty_index_message",
    "fallback_answer",
    "fallback_text",
    "format_source",
    "fuse_hits",
    "hit_to_dict",
    "lexical_query",
    "merge_neighbours",
    "mmr",
    "normalise",
    "parse_answer",
    "reciprocal_rank_fusion",
    "rewrite_messages",
    "verify_citations",
]
