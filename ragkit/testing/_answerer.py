"""FakeOllama's stand-in chat model: extractive, cited, deterministic answers."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ragkit.testing._schema import flatten, instance_for, validate
from ragkit.testing._text import truncate_tokens, words

__all__ = ["DONT_KNOW", "Reply", "answer_chat", "answer_generate"]

DONT_KNOW = "I don't know: the provided context does not answer the question."
"""The reply when the context shares no word with the question."""

_ECHO = "You asked: {question} I am a stand-in model, so I can only repeat it."
_GREETING = "Hello! I am a stand-in model; ask me a question."

_STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during
    each few for from further had has have having he her here hers him his how i if
    in into is it its itself just me more most my no nor not now of off on once only
    or other our out over own please same she should so some such tell than that the
    their them then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your
    yours""".split()
)
"""Words too common to say what a question is about."""

_SECOND_SENTENCE = 0.85
"""A runner-up joins the answer when it scores at least this share of the best."""

_SHORT_SENTENCE = 3
"""Sentences with fewer words than this count half."""

_QUERY_PARAMETERS = frozenset(
    "query q question text prompt search input message term keywords".split()
)
"""Tool parameters that take the question itself rather than a name from it."""

_GENERIC_VERBS = frozenset("get set fetch do run call use make".split())
"""Words in tool names that say nothing about what the tool is for."""

_PREPOSITIONS = frozenset("in for of about at from to on called named near".split())

_HEADER = re.compile(r"^[ \t]*\[(\d+)\][ \t]*(.*)$", re.MULTILINE)
# Only the full words: FAQ passages often hold "Q:" lines of their own.
_MARKER = re.compile(r"^[ \t]*(?:question|query)[ \t]*:[ \t]*", re.I | re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_BLOCK_MARKER = re.compile(r"[ \t]*(?:#{1,6}[ \t]|[-*+>|][ \t]|\d{1,3}[.)][ \t])")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_LEADING_MARKUP = re.compile(r"(?:#{1,6}|[-*+>]|\d{1,3}[.)])[ \t]+")
_TOKEN = re.compile(r"[^\W_][\w'-]*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class Reply:
    """What the stand-in model says, before the server wraps it in wire JSON.

    Attributes:
        content: The answer text (``""`` when the reply is a tool call).
        thinking: The reasoning text, filled only when thinking was asked for.
        tool_calls: Wire-shaped tool calls: ``{"id": "call_xxxxxxxx",
            "function": {"index": i, "name": ..., "arguments": {...}}}``.
        done_reason: ``"stop"``, or ``"length"`` when ``num_predict`` cut the
            content.
    """

    content: str
    thinking: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()
    done_reason: str = "stop"


@dataclass(frozen=True)
class _Sentence:
    """A sentence of the context, quoted verbatim, with the source it came from."""

    text: str
    source: int | None
    position: int


@dataclass(frozen=True)
class _Scored:
    sentence: _Sentence
    score: float


@dataclass(frozen=True)
class _Extract:
    """The outcome of reading the context for the question."""

    question: str
    used: tuple[_Scored, ...]
    considered: int
    sources: tuple[int, ...]
    has_context: bool


def answer_chat(
    messages: Sequence[Mapping[str, Any]],
    *,
    format: object = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    think: bool | str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Reply:
    """Answer a chat the way FakeOllama's chat models do.

    The question is the last user message; everything else is context. When
    the context holds numbered sources (blocks starting with a ``[N] ...``
    line), the answer quotes the source sentence that best matches the
    question, verbatim, and cites ``N``. When no sentence shares a word with
    the question, the answer is :data:`DONT_KNOW`. When a tool matches the
    question, the reply is a call to it instead (but never right after a tool
    result).

    Args:
        messages: Wire messages (``role``, ``content``, ...).
        format: None, ``""``, ``"json"`` or a JSON schema (a mapping).
        tools: Wire tool definitions.
        think: Whether (or how hard) to think; truthy fills ``thinking``.
        options: Wire options; ``num_predict``, ``stop``, ``seed`` and
            ``temperature`` are honoured.

    Returns:
        The reply.

    Raises:
        ValueError: If ``format`` is a schema that cannot be used (a ``$ref``
            that points nowhere, keywords of the wrong type).
    """
    opts = options or {}
    question_index = _last_index(messages, "user")
    question_text = (
        _content(messages[question_index]) if question_index is not None else ""
    )
    question, question_rest = _split_question(question_text)
    contexts: list[str] = []
    for index, message in enumerate(messages):
        if index == question_index:
            contexts.extend(question_rest)
        elif message.get("role") == "user":
            contexts.extend(_earlier_turn(_content(message)))
        else:
            contexts.append(_content(message))

    after_tool = bool(messages) and messages[-1].get("role") == "tool"
    if tools and not after_tool:
        call = _choose_tool(tools, question, len(messages))
        if call is not None:
            thinking = ""
            if think:
                name = call["function"]["name"]
                arguments = json.dumps(call["function"]["arguments"], sort_keys=True)
                thinking = (
                    f"The question is about {_topic(question)}. The tool {name} "
                    f"fits it, so I call it with {arguments}."
                )
            return Reply(content="", thinking=thinking, tool_calls=(call,))

    tool_results: list[str] = []
    if after_tool:
        start = (question_index or 0) + 1
        tool_results = [
            _content(message)
            for message in messages[start:]
            if message.get("role") == "tool"
        ]
    extract = _extract(question, contexts, opts)
    if after_tool and not extract.used and any(r.strip() for r in tool_results):
        # A tool result need not repeat the question's words ("21 C, sunny"
        # for "weather in Paris?"); it is still the answer.
        extract = _from_tool_results(question, tool_results, extract)
    return _finish(extract, format, think, opts)


def answer_generate(
    prompt: str,
    *,
    system: str | None = None,
    suffix: str | None = None,
    format: object = None,
    think: bool | str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Reply:
    """Complete a prompt the way FakeOllama's generate models do.

    The prompt is read like a chat's last user message (a trailing question
    paragraph, or a ``Question:`` line, is the question; ``[N]`` blocks are
    sources) and the system text is more context.

    Args:
        prompt: The prompt.
        system: The system text, if any.
        suffix: Text that follows the completion (fill-in-the-middle); the
            reply is then one short sentence meant to sit between the two.
        format: None, ``""``, ``"json"`` or a JSON schema (a mapping).
        think: Whether (or how hard) to think; truthy fills ``thinking``.
        options: Wire options, as for :func:`answer_chat`.

    Returns:
        The reply.

    Raises:
        ValueError: If ``format`` is a schema that cannot be used.
    """
    opts = options or {}
    if suffix:
        return _fill_in_the_middle(prompt, suffix, system or "", format, think, opts)
    question, rest = _split_question(prompt)
    extract = _extract(question, [system or "", *rest], opts)
    return _finish(extract, format, think, opts)


def _fill_in_the_middle(
    prompt: str,
    suffix: str,
    system: str,
    format: object,
    think: bool | str | None,
    opts: Mapping[str, Any],
) -> Reply:
    """One sentence of the prompt's text, the one closest to what follows the gap."""
    extract = _extract(suffix, [system, prompt], opts)
    if not extract.used:
        sentences = _sentences(prompt, None, 0) or _sentences(system, None, 0)
        fallback = tuple(_Scored(sentence, 0.0) for sentence in sentences[-1:])
        extract = _Extract(suffix, fallback, len(sentences), (), bool(sentences))
    extract = dataclasses.replace(extract, used=extract.used[:1])
    reply = _finish(extract, format, think, opts)
    if format in (None, "") and reply.content and prompt[-1:].strip():
        # Keep the filled-in sentence from gluing onto the prompt's last word.
        return Reply(" " + reply.content, reply.thinking, (), reply.done_reason)
    return reply


# --- reading the conversation ---------------------------------------------


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _last_index(messages: Sequence[Mapping[str, Any]], role: str) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == role:
            return index
    return None


def _earlier_turn(text: str) -> list[str]:
    """The context in an earlier user message.

    An earlier RAG turn carried sources and a question: keep the sources
    only, or the old question would be quoted as if it were a source. A
    plain chat turn ("My name is Ada.") is context as a whole.
    """
    _, rest = _split_question(text)
    if any(_numbered_blocks(part) for part in rest):
        return rest
    return [text]


def _split_question(text: str) -> tuple[str, list[str]]:
    """Separate the question from context that came in the same message.

    Returns the question and the remaining text pieces. Recognised, in order:
    a ``Question:`` line (the question runs to the end of its paragraph); a
    question (text with a ``?``) before the first ``[N]`` block; a last
    paragraph ending in ``?`` after other text; any text before the first
    ``[N]`` block. Otherwise the whole text is the question.
    """
    markers = list(_MARKER.finditer(text))
    if markers:
        marker = markers[-1]
        end = len(text)
        brk = _PARAGRAPH_BREAK.search(text, marker.end())
        if brk is not None:
            end = brk.start()
        header = _HEADER.search(text, marker.end())
        if header is not None and header.start() < end:
            end = header.start()
        question = text[marker.end() : end].strip()
        return question, [text[: marker.start()], text[end:]]

    first_header = _HEADER.search(text)
    preamble = text[: first_header.start()] if first_header is not None else ""
    if first_header is not None and "?" in preamble:
        return preamble.strip(), [text[first_header.start() :]]

    breaks = list(_PARAGRAPH_BREAK.finditer(text.rstrip()))
    if breaks:
        last = text[breaks[-1].end() :].strip()
        earlier = text[: breaks[-1].start()]
        if last.endswith("?") and not _HEADER.match(last) and words(earlier):
            return last, [earlier]

    if first_header is not None and words(preamble):
        return preamble.strip(), [text[first_header.start() :]]
    return text.strip(), []


def _numbered_blocks(text: str) -> list[tuple[int, str]]:
    """Parse ``[N] header`` blocks: each runs to the next header or the end.

    After the first header, only the next number in sequence starts a new
    block, so a passage that itself holds a numbered list of references
    ("[12] A. Author, ...") stays one block.
    """
    headers: list[re.Match[str]] = []
    for header in _HEADER.finditer(text):
        number = int(header.group(1))
        if number > 0 and (not headers or number == int(headers[-1].group(1)) + 1):
            headers.append(header)
    blocks: list[tuple[int, str]] = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body = text[header.end() : end]
        # A one-line source ("[2] The passage itself.") has its text in the header.
        blocks.append((int(header.group(1)), body if words(body) else header.group(2)))
    return blocks


def _sentences(text: str, source: int | None, start: int) -> list[_Sentence]:
    """Split a text into sentences, each a verbatim slice of it.

    Boundaries are sentence punctuation followed by a space and a character
    that is not lower case, blank lines, and line breaks before Markdown
    block markup (headings, list items, quotes, table rows) or after a
    heading line.
    """
    cuts = {0, len(text)}
    for brk in _PARAGRAPH_BREAK.finditer(text):
        cuts.update((brk.start(), brk.end()))
    offset = 0
    previous = ""
    for line in text.splitlines(keepends=True):
        if offset and (_BLOCK_MARKER.match(line) or previous.lstrip().startswith("#")):
            cuts.add(offset)
        previous = line
        offset += len(line)
    for end in _SENTENCE_END.finditer(text):
        following = text[end.end() :].lstrip()
        if following and not following[0].islower():
            cuts.add(end.end())
    bounds = sorted(cuts)
    found: list[_Sentence] = []
    for left, right in itertools.pairwise(bounds):
        piece = text[left:right].strip()
        markup = _LEADING_MARKUP.match(piece)
        if markup is not None:
            piece = piece[markup.end() :]
        if words(piece):
            found.append(_Sentence(piece, source, start + len(found)))
    return found


def _stem(word: str) -> str:
    """Fold simple English plurals so "retries" matches "retry"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _terms(text: str) -> set[str]:
    return {_stem(word) for word in words(text) if word not in _STOP_WORDS}


def _topic(question: str) -> str:
    ordered: list[str] = []
    for word in words(question):
        if word not in _STOP_WORDS and word not in ordered:
            ordered.append(word)
    return ", ".join(ordered[:6]) or "nothing in particular"


# --- choosing sentences ----------------------------------------------------


def _extract(
    question: str, contexts: Sequence[str], opts: Mapping[str, Any]
) -> _Extract:
    numbered = [block for text in contexts for block in _numbered_blocks(text)]
    sentences: list[_Sentence] = []
    if numbered:
        for number, body in numbered:
            sentences.extend(_sentences(body, number, len(sentences)))
    else:
        for text in contexts:
            sentences.extend(_sentences(text, None, len(sentences)))
    sources = tuple(dict.fromkeys(number for number, _ in numbered))
    used = _rank(question, sentences, opts)
    return _Extract(
        question=question,
        used=used,
        considered=len(sentences),
        sources=sources,
        has_context=bool(sentences),
    )


def _rank(
    question: str, sentences: Sequence[_Sentence], opts: Mapping[str, Any]
) -> tuple[_Scored, ...]:
    """Pick the best sentence (and a close runner-up) by weighted word overlap."""
    wanted = _terms(question)
    if not wanted or not sentences:
        return ()
    sentence_terms = [_terms(sentence.text) for sentence in sentences]
    frequency: dict[str, int] = {}
    for terms in sentence_terms:
        for term in terms & wanted:
            frequency[term] = frequency.get(term, 0) + 1
    # Rarer shared words say more about which sentence answers the question.
    weight = {
        term: math.log(1.0 + len(sentences) / count)
        for term, count in frequency.items()
    }
    scored = [
        _Scored(sentence, _score(sentence.text, terms & wanted, weight))
        for sentence, terms in zip(sentences, sentence_terms, strict=True)
    ]
    ranked = sorted(
        (s for s in scored if s.score > 0),
        key=lambda s: (-s.score, s.sentence.position),
    )
    if not ranked:
        return ()
    best = ranked[0]
    ties = [s for s in ranked if math.isclose(s.score, best.score)]
    pick = _seeded_pick(len(ties), opts)
    best = ties[pick]
    result = [best]
    for other in ranked:
        if other is best or other.sentence.text == best.sentence.text:
            continue
        if other.score >= _SECOND_SENTENCE * best.score:
            result.append(other)
        break
    return tuple(result)


def _score(text: str, shared: set[str], weight: Mapping[str, float]) -> float:
    score = sum(weight[term] for term in shared)
    # A heading or a fragment rarely answers anything, and a quote that short
    # cannot be verified by ragkit's citation checks; prefer real sentences.
    return score / 2 if len(words(text)) < _SHORT_SENTENCE else score


def _seeded_pick(choices: int, opts: Mapping[str, Any]) -> int:
    """Which of several equally good sentences to use.

    Sampling with a seed varies the choice; without a seed, or at
    temperature 0, the earliest wins. Either way the same request always
    gets the same answer.
    """
    seed = opts.get("seed")
    temperature = opts.get("temperature", 0.8)
    if choices < 2 or not isinstance(seed, (int, float)) or isinstance(seed, bool):
        return 0
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        return 0
    return int(seed) % choices


def _from_tool_results(
    question: str, results: Sequence[str], base: _Extract
) -> _Extract:
    sentences: list[_Sentence] = []
    for text in results:
        sentences.extend(_sentences(text, None, len(sentences)))
    if not sentences:
        return base
    return _Extract(
        question=question,
        used=tuple(_Scored(sentence, 0.0) for sentence in sentences[:2]),
        considered=len(sentences),
        sources=base.sources,
        has_context=True,
    )


# --- writing the reply -----------------------------------------------------


def _answer_text(extract: _Extract, *, markers: bool) -> str:
    if extract.used:
        parts = []
        for scored in extract.used:
            sentence = scored.sentence
            # Prose, as a model writes it: the source's line breaks are layout.
            # (Quotes stay verbatim; citation checks normalise whitespace.)
            text = " ".join(sentence.text.split())
            cite = markers and sentence.source is not None
            parts.append(f"{text} [{sentence.source}]" if cite else text)
        return " ".join(parts)
    if extract.has_context:
        return DONT_KNOW
    question = " ".join(extract.question.split())
    return _ECHO.format(question=question) if question else _GREETING


def _finish(
    extract: _Extract, format: object, think: bool | str | None, opts: Mapping[str, Any]
) -> Reply:
    if isinstance(format, Mapping):
        try:
            structured = _structured(extract, format)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # A malformed schema (say "properties": 3) surfaces deep in the
            # schema walk; report it as one kind of error the server can map.
            raise ValueError(f"invalid JSON schema in format: {exc}") from exc
        content = json.dumps(structured, ensure_ascii=False)
    elif format == "json":
        answer = _answer_text(extract, markers=False)
        content = json.dumps({"answer": answer}, ensure_ascii=False)
    else:
        content = _answer_text(extract, markers=True)
    content, done_reason = _apply_limits(content, opts)
    thinking = _thinking(extract, think) if think else ""
    return Reply(content=content, thinking=thinking, done_reason=done_reason)


def _apply_limits(content: str, opts: Mapping[str, Any]) -> tuple[str, str]:
    stops = opts.get("stop")
    if isinstance(stops, Sequence) and not isinstance(stops, str):
        cuts = [content.find(s) for s in stops if isinstance(s, str) and s]
        found = [cut for cut in cuts if cut >= 0]
        if found:
            content = content[: min(found)]
    limit = opts.get("num_predict")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 0:
        cut = truncate_tokens(content, int(limit))
        if cut != content:
            return cut, "length"
    return content, "stop"


def _thinking(extract: _Extract, think: bool | str) -> str:
    topic = _topic(extract.question)
    lines = [f"The question is about {topic}."]
    if not extract.has_context:
        lines.append("There is no context to draw on, so I repeat the question.")
        return " ".join(lines)
    where = (
        f"{len(extract.sources)} numbered sources"
        if extract.sources
        else "the conversation"
    )
    if think != "low":
        lines.append(f"I read {extract.considered} sentences from {where}.")
    if not extract.used:
        lines.append("None of them shares a word with the question.")
        return " ".join(lines)
    for scored in extract.used if think in ("high", "max") else extract.used[:1]:
        origin = (
            f"source [{scored.sentence.source}]"
            if scored.sentence.source is not None
            else "the context"
        )
        lines.append(
            f"A match from {origin} (score {scored.score:.2f}): "
            f"{scored.sentence.text!r}."
        )
    return " ".join(lines)


# --- structured output ------------------------------------------------------

_ANSWER_NAMES = ("answer", "text", "response", "content", "result", "output", "reply")
_ANSWER_SEARCH_DEPTH = 3
"""How many levels of nested objects to search for the answer's field."""
_SOURCE_NAMES = ("source", "source_id", "id", "passage")
_QUOTE_NAMES = ("quote", "text", "excerpt")


def _allows(schema: Mapping[str, Any], root: Mapping[str, Any], kind: str) -> bool:
    node = flatten(schema, root)
    declared = node.get("type")
    names = [declared] if isinstance(declared, str) else list(declared or [])
    for option in [*node.get("anyOf", ()), *node.get("oneOf", ())]:
        if isinstance(option, Mapping):
            names.extend([kind] if _allows(option, root, kind) else [])
    return kind in names or (kind == "integer" and "number" in names)


@dataclass(frozen=True)
class _CitationField:
    name: str
    source_key: str
    quote_key: str
    source_is_number: bool


def _citation_field(
    properties: Mapping[str, Any], root: Mapping[str, Any]
) -> _CitationField | None:
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            continue
        node = flatten(prop, root)
        items = node.get("items")
        if not _allows(prop, root, "array") or not isinstance(items, Mapping):
            continue
        item_props = flatten(items, root).get("properties", {})
        source_key = next((k for k in _SOURCE_NAMES if k in item_props), None)
        quote_key = next(
            (k for k in _QUOTE_NAMES if k in item_props and k != source_key), None
        )
        if source_key is None or quote_key is None:
            continue
        source_schema = item_props[source_key]
        numeric = isinstance(source_schema, Mapping) and _allows(
            source_schema, root, "integer"
        )
        return _CitationField(name, source_key, quote_key, numeric)
    return None


def _answer_path(
    schema: Mapping[str, Any], root: Mapping[str, Any], skip: str | None
) -> str | None:
    """The JSON path of the string that should carry the answer.

    Searched level by level through nested objects: an answer-like name
    (``answer``, ``text``, ``response``, ...) wins, else the first free-text
    string property (not an enum or const). ``skip`` is the citation array.
    """
    if _allows(schema, root, "string") and not flatten(schema, root).get("properties"):
        return ""
    level: list[tuple[str, Mapping[str, Any]]] = [("", schema)]
    first: str | None = None
    for _ in range(_ANSWER_SEARCH_DEPTH):
        named: dict[str, str] = {}
        below: list[tuple[str, Mapping[str, Any]]] = []
        for path, node in level:
            properties = flatten(node, root).get("properties", {})
            for name, prop in properties.items():
                if not isinstance(prop, Mapping) or (path == "" and name == skip):
                    continue
                child = path + "/" + name.replace("~", "~0").replace("/", "~1")
                flat = flatten(prop, root)
                if _allows(prop, root, "string") and not {"enum", "const"} & set(flat):
                    named.setdefault(name, child)
                    first = first or child
                elif flat.get("properties"):
                    below.append((child, prop))
        for preferred in _ANSWER_NAMES:
            if preferred in named:
                return named[preferred]
        level = below
    return first


def _structured(extract: _Extract, schema: Mapping[str, Any]) -> object:
    """Fill a JSON schema with the answer and, where it has room, citations."""
    root = schema
    node = flatten(schema, root)
    properties: Mapping[str, Any] = node.get("properties", {})
    citations = _citation_field(properties, root)
    target = _answer_path(schema, root, citations.name if citations else None)
    answer = _answer_text(extract, markers=False)

    def filler(path: str, _schema: Mapping[str, Any]) -> object:
        return answer if path == target else None

    plain = instance_for(schema, filler=filler)
    if citations is None or not isinstance(plain, dict):
        return plain
    template = plain.get(citations.name)
    if not isinstance(template, list) or not template:
        template = [{}]
    first = template[0] if isinstance(template[0], dict) else {}
    items = []
    for scored in extract.used:
        number = scored.sentence.source
        if number is None:
            continue
        item = copy.deepcopy(first)
        item[citations.source_key] = (
            number if citations.source_is_number else str(number)
        )
        item[citations.quote_key] = scored.sentence.text
        items.append(item)
    cited = {**plain, citations.name: items}
    if not validate(cited, schema):
        return cited
    prop = flatten(properties[citations.name], root)
    if isinstance(prop.get("maxItems"), int):
        trimmed = {**plain, citations.name: items[: prop["maxItems"]]}
        if not validate(trimmed, schema):
            return trimmed
    return plain


# --- tools ------------------------------------------------------------------


def _name_terms(name: str) -> set[str]:
    spaced = _CAMEL.sub(" ", name)
    parts = {_stem(w) for w in re.split(r"[\W_]+", spaced.lower()) if w}
    return parts - _STOP_WORDS - _GENERIC_VERBS


def _choose_tool(
    tools: Sequence[Mapping[str, Any]], question: str, turn: int
) -> dict[str, Any] | None:
    """Call the tool whose name, description or parameters share most words.

    Name words count double. Ties go to the earlier tool; no shared word at
    all means no call.
    """
    # A tool named in the question as an identifier ("use get_temperature")
    # counts by its words, as a real model reads it.
    wanted = _terms(question) | _name_terms(question)
    best: tuple[float, Mapping[str, Any]] | None = None
    for tool in tools:
        function = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(
            function.get("name"), str
        ):
            continue
        properties = _mapping(_mapping(function.get("parameters")).get("properties"))
        score = 2.0 * len(wanted & _name_terms(function["name"]))
        description = function.get("description")
        if isinstance(description, str):
            score += len(wanted & _terms(description))
        for name in properties:
            score += len(wanted & _name_terms(str(name)))
        if score > 0 and (best is None or score > best[0]):
            best = (score, function)
    if best is None:
        return None
    function = best[1]
    arguments = _arguments(_mapping(function.get("parameters")), question)
    name = function["name"]
    seed = json.dumps([name, arguments, question, turn], sort_keys=True)
    digest = hashlib.blake2b(seed.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    letters = []
    for _ in range(8):
        value, rest = divmod(value, len(_ID_ALPHABET))
        letters.append(_ID_ALPHABET[rest])
    return {
        "id": "call_" + "".join(letters),
        "function": {"index": 0, "name": name, "arguments": arguments},
    }


def _phrases(question: str) -> list[str]:
    """Names in a question: capitalised runs, then words after prepositions."""
    found: list[str] = []
    run: list[str] = []
    previous_end = 0
    for match in _TOKEN.finditer(question):
        token = match.group()
        gap = question[previous_end : match.start()]
        before = question[: match.start()].rstrip()
        # A capital at the start of a sentence says nothing about names.
        initial = not before or before[-1] in ".!?:"
        named = token[0].isupper() and not initial and token.lower() not in _STOP_WORDS
        if run and (not named or gap.strip()):
            found.append(" ".join(run))
            run = []
        if named:
            run.append(token)
        previous_end = match.end()
    if run:
        found.append(" ".join(run))
    tokens = _TOKEN.findall(question)
    for index, token in enumerate(tokens):
        if token.lower() not in _PREPOSITIONS:
            continue
        phrase: list[str] = []
        for follower in tokens[index + 1 : index + 5]:
            lowered = follower.lower()
            if lowered in _PREPOSITIONS or (lowered in _STOP_WORDS and phrase):
                break
            if lowered not in _STOP_WORDS:
                phrase.append(follower)
            if len(phrase) == 3:
                break
        text = " ".join(phrase)
        if text and not any(text in earlier or earlier in text for earlier in found):
            found.append(text)
    return found


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _kind(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else list(declared or [])
    names = [name for name in names if name != "null"]
    if names:
        return str(names[0])
    for option in schema.get("anyOf", ()):
        if isinstance(option, Mapping) and _kind(option) != "null":
            return _kind(option)
    return "string"


def _arguments(parameters: Mapping[str, Any], question: str) -> dict[str, Any]:
    """Fill a tool's parameters from the question.

    Required strings get names from the question in order (or the whole
    question), numbers come from the question's digits, enums take the
    value the question mentions (else their first value). Optional
    parameters are filled only when the question supplies them.
    """
    properties = _mapping(parameters.get("properties"))
    required_names = parameters.get("required")
    required = set(required_names) if isinstance(required_names, list) else set()
    question_words = set(words(question))
    phrases = _phrases(question)
    numbers = _NUMBER.findall(question)
    plain_question = question.strip().rstrip("?!. ").strip() or question
    arguments: dict[str, Any] = {}
    next_phrase = 0
    next_number = 0
    defs = _mapping(parameters.get("$defs"))
    for name, raw in properties.items():
        if not isinstance(raw, Mapping):
            continue
        # Sub-schemas may point into the parameters' $defs.
        scoped = {**raw, "$defs": defs}
        try:
            prop = flatten(scoped, scoped)
        except ValueError:
            # A $ref that leads nowhere: leave the argument out, as a
            # confused model would, rather than fail the request.
            continue
        needed = name in required
        enum = prop.get("enum")
        if isinstance(enum, list) and enum:
            match = next((v for v in enum if str(v).lower() in question_words), None)
            if match is not None or needed:
                arguments[name] = match if match is not None else enum[0]
            continue
        kind = _kind(prop)
        if kind in ("integer", "number"):
            if next_number < len(numbers):
                value = float(numbers[next_number])
                next_number += 1
                integral = kind == "integer" or value.is_integer()
                arguments[name] = int(value) if integral else value
            elif needed:
                arguments[name] = 0
        elif kind == "boolean":
            if needed or name.lower() in question_words:
                arguments[name] = name.lower() in question_words
        elif kind == "string":
            if not needed:
                continue
            if name.lower() in _QUERY_PARAMETERS:
                arguments[name] = plain_question
            elif next_phrase < len(phrases):
                arguments[name] = phrases[next_phrase]
                next_phrase += 1
            else:
                arguments[name] = phrases[0] if phrases else plain_question
        elif needed:
            with contextlib.suppress(ValueError):
                arguments[name] = instance_for(scoped)
    return arguments
