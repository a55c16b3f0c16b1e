"""Content added from an app: texts or documents, their ids and metadata, checked."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ragkit.errors import ConfigError
from ragkit.pipeline import ProblemChunk, text_hash
from ragkit.store import check_metadata
from ragkit.types import Document, MetadataValue

__all__ = [
    "AddReport",
    "MetadataArg",
    "PreparedDocument",
    "default_id",
    "prepare_documents",
]

MetadataArg = (
    Mapping[str, MetadataValue] | Sequence[Mapping[str, MetadataValue] | None] | None
)
"""One mapping for every item, one mapping (or None) per item, or None."""

_ID_PREFIX = "text-"
_ID_HEX = 16


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """An item of :meth:`ragkit.Index.add`, checked and ready for the ingest.

    Attributes:
        document: The document, its id as ``path`` and its metadata checked.
        content_hash: Hash of everything stored about it (text, kind, title,
            metadata): an equal hash means there is nothing to write.
    """

    document: Document
    content_hash: str


@dataclass(slots=True)
class AddReport:
    """What :meth:`ragkit.Index.add` did.

    Attributes:
        ids: The id of every item, in the order given (defaults included).
        added: Ids new to the index.
        changed: Ids whose earlier content was replaced.
        unchanged: Items already in the index exactly so (nothing was done).
        chunks: Chunks written.
        embedded: Distinct texts sent to the server to embed.
        reused: Chunks whose vectors were already in the index's cache.
        requests: ``/api/embed`` requests made.
        truncated: Chunks longer than the model's context (embedded truncated).
        failed: Chunks the server refused to embed (left out of the index).
        seconds: Wall time of the call.
    """

    ids: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    requests: int = 0
    truncated: list[ProblemChunk] = field(default_factory=list)
    failed: list[ProblemChunk] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (JSON-ready)."""
        return dataclasses.asdict(self)


def default_id(text: str) -> str:
    """The id a text gets when none is given: deterministic from its content.

    Adding the same text again therefore replaces it instead of duplicating it.

    >>> default_id("Backups run nightly.")
    'text-228db8621d889f25'
    """
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return _ID_PREFIX + digest[:_ID_HEX]


def prepare_documents(
    items: Iterable[str | Document],
    *,
    metadata: MetadataArg = None,
    ids: Sequence[str] | None = None,
) -> tuple[list[PreparedDocument], list[str]]:
    """Check everything :meth:`ragkit.Index.add` was given, before any work.

    Args:
        items: Texts and :class:`~ragkit.types.Document` objects.
        metadata: One mapping for all items, or one mapping (or None) per item;
            merged over a document's own metadata.
        ids: One id per item; by default a text's id is :func:`default_id`
            and a document's is its ``path``.

    Returns:
        The documents in order (repeats of one id with equal content merged
        into the first), and the id of every item as given.

    Raises:
        ConfigError: An item is not a text or document or is empty, the
            counts do not match, metadata has a type that is not allowed, or
            one id is given to two different contents.
    """
    listed = _items(items)
    wanted_ids = _ids(ids, len(listed))
    per_item = _metadata(metadata, len(listed))
    prepared: list[PreparedDocument] = []
    item_ids: list[str] = []
    first_seen: dict[str, tuple[int, str]] = {}
    for position, item in enumerate(listed):
        document = _document(position, item, wanted_ids, per_item)
        content = _content_hash(document)
        item_ids.append(document.path)
        earlier = first_seen.get(document.path)
        if earlier is not None:
            if earlier[1] != content:
                raise ConfigError(
                    f"items #{earlier[0]} and #{position} have the same id "
                    f"{document.path!r} but different content; give them "
                    "different ids (nothing was written)"
                )
            continue
        first_seen[document.path] = (position, content)
        prepared.append(PreparedDocument(document, content))
    return prepared, item_ids


def _items(items: Iterable[str | Document]) -> list[str | Document]:
    if isinstance(items, str | bytes | Mapping | Document):
        raise ConfigError(
            "add() takes a list of texts or documents; for one text, "
            "use index.add([text])"
        )
    try:
        return list(items)
    except TypeError:
        raise ConfigError(
            f"add() takes a list of texts or documents, not {type(items).__name__}"
        ) from None


def _ids(ids: Sequence[str] | None, count: int) -> list[str] | None:
    if ids is None:
        return None
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise ConfigError("ids must be a list of strings, one per item")
    if len(ids) != count:
        raise ConfigError(f"{len(ids)} ids for {count} items; give one id per item")
    for position, value in enumerate(ids):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"id #{position} must be a non-empty string")
    return list(ids)


def _metadata(metadata: MetadataArg, count: int) -> list[Mapping[str, Any] | None]:
    if metadata is None:
        return [None] * count
    if isinstance(metadata, Mapping):
        return [metadata] * count
    if isinstance(metadata, str | bytes) or not isinstance(metadata, Sequence):
        raise ConfigError(
            "metadata must be a mapping (for every item) or a list of mappings "
            f"(one per item), not {type(metadata).__name__}"
        )
    if len(metadata) != count:
        raise ConfigError(
            f"{len(metadata)} metadata mappings for {count} items; give one per "
            "item, or one mapping for all"
        )
    for position, entry in enumerate(metadata):
        if entry is not None and not isinstance(entry, Mapping):
            raise ConfigError(
                f"metadata #{position} must be a mapping or None, "
                f"not {type(entry).__name__}"
            )
    return list(metadata)


def _document(
    position: int,
    item: str | Document,
    ids: list[str] | None,
    metadata: list[Mapping[str, Any] | None],
) -> Document:
    if isinstance(item, str):
        document = Document(path=default_id(item), text=item)
    elif isinstance(item, Document):
        document = item
    else:
        raise ConfigError(
            f"item #{position} is a {type(item).__name__}; add() takes texts "
            "(str) and ragkit.Document objects"
        )
    if not document.text.strip():
        raise ConfigError(f"item #{position} has no text; there is nothing to index")
    path = ids[position] if ids is not None else document.path
    if not path.strip():
        raise ConfigError(f"item #{position} has an empty id (Document.path)")
    merged = {**document.metadata, **(metadata[position] or {})}
    where = f"item #{position} ({path!r})"
    # Checked before anything is embedded: a bad row leaves nothing half written.
    clean = check_metadata(merged, where=where)
    return dataclasses.replace(document, path=path, metadata=MappingProxyType(clean))


def _content_hash(document: Document) -> str:
    stored = {
        "text": document.text,
        "kind": document.kind,
        "title": document.title,
        "sections": [
            [s.start, s.end, s.page, list(s.heading_path)] for s in document.sections
        ],
        "metadata": dict(document.metadata),
    }
    return text_hash(json.dumps(stored, sort_keys=True, ensure_ascii=False))
