"""FakeOllama's in-memory model registry: stand-in models, blobs and loaded models."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from ragkit.testing._names import ModelName, parse_name

__all__ = [
    "DEFAULT_MODELS",
    "FakeModel",
    "LoadedModel",
    "Registry",
    "is_pullable",
    "model_for_pull",
]

ModelKind = Literal["embedding", "chat"]
ParameterValue = str | int | float | bool | Sequence[str]

_EPOCH = datetime(2026, 2, 20, 9, 30, tzinfo=timezone.utc)

DEFAULT_KEEP_ALIVE = timedelta(minutes=5)
DEFAULT_NUM_CTX = 4096


@dataclass(frozen=True)
class FakeModel:
    """A stand-in model as FakeOllama lists, shows and runs it.

    Attributes:
        name: The name it is registered under (``llama3.2`` means
            ``llama3.2:latest``).
        kind: ``"embedding"`` models embed; ``"chat"`` models generate and chat.
        dimension: The embedding length (the vector size for embedding models).
        context_length: The trained context length, used for truncation.
        family: The architecture (``general.architecture`` in ``show``).
        parameter_size: As shown in ``details``, e.g. ``"3.2B"``.
        quantization_level: As shown in ``details``, e.g. ``"Q4_K_M"``.
        capabilities: E.g. ``("completion", "tools")``; empty picks from ``kind``.
        digest: The manifest digest (64 hex); empty derives one from the name.
        size: The size in bytes.
        template: The prompt template shown by ``show``.
        system: The Modelfile system prompt.
        parameters: Modelfile parameters, e.g. ``{"stop": ["<|eot_id|>"]}``.
        license: The license text.
        modified_at: When it was last modified (sorts ``/api/tags``).
        messages: Messages baked into the model by ``create``.
    """

    name: str
    kind: ModelKind = "chat"
    dimension: int = 3072
    context_length: int = 131072
    family: str = "llama"
    parameter_size: str = "3.2B"
    quantization_level: str = "Q4_K_M"
    capabilities: tuple[str, ...] = ()
    digest: str = ""
    size: int = 2_019_393_189
    template: str = "{{ .Prompt }}"
    system: str = ""
    parameters: Mapping[str, ParameterValue] = field(default_factory=dict)
    license: str = ""
    modified_at: datetime = _EPOCH
    messages: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if parse_name(self.name) is None:
            raise ValueError(f"invalid model name: {self.name!r}")
        if not self.capabilities:
            default = ("embedding",) if self.kind == "embedding" else ("completion",)
            object.__setattr__(self, "capabilities", default)
        if not self.digest:
            object.__setattr__(self, "digest", _digest_for(self))

    @property
    def parsed(self) -> ModelName:
        """The parsed name with defaults filled in."""
        parsed = parse_name(self.name)
        assert parsed is not None  # checked in __post_init__
        return parsed

    def can(self, capability: str) -> bool:
        """Whether the model has a capability such as ``"tools"`` or ``"thinking"``."""
        return capability in self.capabilities


def _digest_for(model: FakeModel) -> str:
    seed = "|".join(
        [model.parsed.key, model.kind, str(model.dimension), model.family, model.system]
    )
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


_LLAMA_TEMPLATE = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_QWEN_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)

DEFAULT_MODELS: tuple[FakeModel, ...] = (
    FakeModel(
        name="nomic-embed-text",
        kind="embedding",
        dimension=768,
        context_length=2048,
        family="nomic-bert",
        parameter_size="137M",
        quantization_level="F16",
        capabilities=("embedding",),
        size=274_302_450,
        template="",
        parameters={"num_ctx": 8192},
        license="Apache License Version 2.0",
        modified_at=_EPOCH,
    ),
    FakeModel(
        name="all-minilm",
        kind="embedding",
        dimension=384,
        context_length=512,
        family="bert",
        parameter_size="23M",
        quantization_level="F16",
        capabilities=("embedding",),
        size=45_960_996,
        template="",
        license="Apache License Version 2.0",
        modified_at=_EPOCH - timedelta(days=1, hours=3),
    ),
    FakeModel(
        name="mxbai-embed-large",
        kind="embedding",
        dimension=1024,
        context_length=512,
        family="bert",
        parameter_size="334M",
        quantization_level="F16",
        capabilities=("embedding",),
        size=669_615_493,
        template="",
        license="Apache License Version 2.0",
        modified_at=_EPOCH - timedelta(days=2, hours=7),
    ),
    FakeModel(
        name="llama3.2",
        kind="chat",
        dimension=3072,
        context_length=131072,
        family="llama",
        parameter_size="3.2B",
        quantization_level="Q4_K_M",
        capabilities=("completion", "tools"),
        size=2_019_393_189,
        template=_LLAMA_TEMPLATE,
        parameters={"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        license="LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
        modified_at=_EPOCH - timedelta(days=3, hours=1),
    ),
    FakeModel(
        name="qwen3",
        kind="chat",
        dimension=4096,
        context_length=40960,
        family="qwen3",
        parameter_size="8.2B",
        quantization_level="Q4_K_M",
        capabilities=("completion", "tools", "thinking"),
        size=5_225_388_164,
        template=_QWEN_TEMPLATE,
        parameters={
            "repeat_penalty": 1,
            "stop": ["<|im_start|>", "<|im_end|>"],
            "temperature": 0.6,
            "top_k": 20,
            "top_p": 0.95,
        },
        license="Apache License Version 2.0",
        modified_at=_EPOCH - timedelta(days=4, hours=5),
    ),
    FakeModel(
        name="llava",
        kind="chat",
        dimension=4096,
        context_length=32768,
        family="llama",
        parameter_size="7B",
        quantization_level="Q4_0",
        capabilities=("completion", "vision"),
        size=4_733_363_377,
        template="[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]",
        parameters={"stop": ["[INST]", "[/INST]"]},
        license="Apache License Version 2.0",
        modified_at=_EPOCH - timedelta(days=6, hours=2),
    ),
)

_UNPULLABLE = ("missing", "nonexistent")


def is_pullable(name: ModelName) -> bool:
    """Whether the fake registry has a model: names without missing/nonexistent."""
    lowered = name.full.casefold()
    return not any(word in lowered for word in _UNPULLABLE)


def model_for_pull(name: ModelName, display: str) -> FakeModel:
    """The model a pull of ``name`` installs, stored under ``display``.

    A default model's own name restores that model; other names containing
    ``embed``, ``minilm`` or ``bge`` become 768-dimension embedding models, and
    anything else a llama-family chat model.
    """
    for model in DEFAULT_MODELS:
        base = model.parsed
        if base.model.casefold() == name.model.casefold():
            return replace(model, name=display, modified_at=datetime.now(timezone.utc))
    lowered = name.model.casefold()
    now = datetime.now(timezone.utc)
    if any(word in lowered for word in ("embed", "minilm", "bge")):
        return FakeModel(
            name=display,
            kind="embedding",
            dimension=768,
            context_length=2048,
            family="bert",
            parameter_size="109M",
            quantization_level="F16",
            size=218_000_000,
            template="",
            modified_at=now,
        )
    return FakeModel(
        name=display,
        capabilities=("completion", "tools"),
        template=_LLAMA_TEMPLATE,
        modified_at=now,
    )


@dataclass
class LoadedModel:
    """A model that ``/api/ps`` lists: when it expires and the context it runs with."""

    model: FakeModel
    expires_at: datetime
    context_length: int
    keep_alive: timedelta


class Registry:
    """Thread-safe models, blobs and loaded models of one FakeOllama."""

    def __init__(self, models: Iterable[FakeModel]) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, FakeModel] = {}
        self._blobs: dict[str, bytes] = {}
        self._loaded: dict[str, LoadedModel] = {}
        for model in models:
            self.put(model)

    def get(self, name: ModelName) -> FakeModel | None:
        """The model with this name, case-insensitively."""
        with self._lock:
            return self._models.get(name.key)

    def put(self, model: FakeModel) -> FakeModel:
        """Add or replace a model; an existing name keeps its original casing."""
        with self._lock:
            existing = self._models.get(model.parsed.key)
            if existing is not None and existing.name != model.name:
                model = replace(model, name=existing.name, digest="")
            self._models[model.parsed.key] = model
            return model

    def delete(self, name: ModelName) -> bool:
        """Remove a model (and unload it); ``False`` if there was none."""
        with self._lock:
            self._loaded.pop(name.key, None)
            return self._models.pop(name.key, None) is not None

    def models(self) -> list[FakeModel]:
        """Every model, most recently modified first."""
        with self._lock:
            models = list(self._models.values())
        return sorted(models, key=lambda model: model.modified_at, reverse=True)

    def has_blob(self, digest: str) -> bool:
        """Whether a blob (``sha256:<hex>``) was uploaded."""
        with self._lock:
            return digest in self._blobs

    def add_blob(self, digest: str, data: bytes) -> bool:
        """Store a blob; ``True`` if it is new."""
        with self._lock:
            new = digest not in self._blobs
            self._blobs[digest] = data
            return new

    def is_loaded(self, model: FakeModel) -> bool:
        """Whether the model is loaded now (expired entries count as unloaded)."""
        with self._lock:
            entry = self._loaded.get(model.parsed.key)
            return entry is not None and entry.expires_at > datetime.now(timezone.utc)

    def load(
        self, model: FakeModel, keep_alive: timedelta | None, context_length: int
    ) -> None:
        """Mark a model loaded; ``None`` keeps its keep_alive (5 min if new)."""
        key = model.parsed.key
        now = datetime.now(timezone.utc)
        with self._lock:
            entry = self._loaded.get(key)
            if entry is not None and entry.expires_at <= now:
                entry = None
            if keep_alive is None:
                keep_alive = entry.keep_alive if entry else DEFAULT_KEEP_ALIVE
            self._loaded[key] = LoadedModel(
                model=model,
                expires_at=now + keep_alive,
                context_length=context_length,
                keep_alive=keep_alive,
            )

    def unload(self, model: FakeModel) -> None:
        """Unload a model now."""
        with self._lock:
            self._loaded.pop(model.parsed.key, None)

    def loaded(self) -> list[LoadedModel]:
        """Loaded models that have not expired, latest expiry first."""
        now = datetime.now(timezone.utc)
        with self._lock:
            for key in [k for k, v in self._loaded.items() if v.expires_at <= now]:
                del self._loaded[key]
            entries = list(self._loaded.values())
        return sorted(entries, key=lambda entry: entry.expires_at, reverse=True)
