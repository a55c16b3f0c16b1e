"""``ragkit models …``: list, show, pull, push, create, copy and delete models."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from ragkit.cli._main import AppContext, cli, pass_app
from ragkit.cli._output import clean, echo_json, say
from ragkit.cli._progress import Progress, format_bytes
from ragkit.errors import ConfigError, ModelNotFoundError, OllamaError, ResponseError
from ragkit.ollama import (
    Client,
    ListedModel,
    Options,
    ProgressResponse,
    RunningModel,
    ShowResponse,
    parse_parameters,
    parse_time,
)

__all__ = [
    "Modelfile",
    "human_time",
    "models",
    "parse_modelfile",
    "parse_parameter_values",
    "processor",
]

F = TypeVar("F", bound=Callable[..., Any])

_FOREVER_SECONDS = 20 * 365.25 * 86400
"""``ollama ps`` shows "Forever" past 20 years (the server uses ~290 for -1)."""
_ROLES = ("system", "user", "assistant")
_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})


def json_option(func: F) -> F:
    """Add ``--json``: print the result as data for scripts instead of a table."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON."
    )(func)


def insecure_option(func: F) -> F:
    """Add ``--insecure``, for registries served over plain ``http://``."""
    return click.option(
        "--insecure",
        is_flag=True,
        help="Allow an http:// registry (for a private registry in development).",
    )(func)


def _client(app: AppContext) -> Client:
    # The root --host wins; None lets the client read OLLAMA_HOST (and the key
    # from OLLAMA_API_KEY), exactly as a library user's client would.
    return Client(app.host)


# -- formatting ----------------------------------------------------------------


def human_time(moment: datetime, now: datetime) -> str:
    """Describe ``moment`` relative to ``now`` the way the Ollama CLI does.

    Examples:
        >>> from datetime import timedelta
        >>> now = datetime(2026, 3, 1, tzinfo=timezone.utc)
        >>> human_time(now - timedelta(days=3), now)
        '3 days ago'
        >>> human_time(now + timedelta(minutes=4, seconds=30), now)
        '4 minutes from now'
        >>> human_time(now + timedelta(days=365 * 290), now)
        'Forever'
    """
    delta = (moment - now).total_seconds()
    future = delta > 0
    seconds = abs(delta)
    if future and seconds > _FOREVER_SECONDS:
        return "Forever"
    day = 86400
    if seconds < 1:
        phrase = "less than a second"
    elif seconds < 2:
        phrase = "1 second"
    elif seconds < 60:
        phrase = f"{int(seconds)} seconds"
    elif seconds < 120:
        phrase = "about a minute"
    elif seconds < 3600:
        phrase = f"{int(seconds // 60)} minutes"
    elif seconds < 7200:
        phrase = "about an hour"
    elif seconds < 2 * day:
        phrase = f"{int(seconds // 3600)} hours"
    elif seconds < 14 * day:
        phrase = f"{int(seconds // day)} days"
    elif seconds < 60 * day:
        phrase = f"{int(seconds // (7 * day))} weeks"
    elif seconds < 730 * day:
        phrase = f"{int(seconds // (30 * day))} months"
    else:
        phrase = f"{int(seconds // (365 * day))} years"
    return f"{phrase} from now" if future else f"{phrase} ago"


def processor(size: int | None, size_vram: int | None) -> str:
    """Where a loaded model runs, as ``ollama ps`` shows it.

    Examples:
        >>> processor(100, 100)
        '100% GPU'
        >>> processor(100, 0)
        '100% CPU'
        >>> processor(100, 60)
        '40%/60% CPU/GPU'
    """
    if not size or not size_vram:
        return "100% CPU"
    if size_vram >= size:
        return "100% GPU"
    cpu = round((size - size_vram) / size * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    cells = [list(headers), *([clean(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "   ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in cells
    ]


def _when(value: str | None, now: datetime) -> str:
    moment = parse_time(value)
    return human_time(moment, now) if moment is not None else ""


def _listed_json(model: ListedModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "digest": model.digest,
        "size": model.size,
        "size_human": format_bytes(model.size or 0),
        "modified_at": model.modified_at,
        "family": model.details.family,
        "parameter_size": model.details.parameter_size,
        "quantization": model.details.quantization_level,
        "capabilities": model.capabilities or [],
    }


def _running_json(model: RunningModel, now: datetime) -> dict[str, Any]:
    expires = parse_time(model.expires_at)
    forever = expires is not None and human_time(expires, now) == "Forever"
    return {
        "name": model.name,
        "digest": model.digest,
        "size": model.size,
        "size_vram": model.size_vram,
        "processor": processor(model.size, model.size_vram),
        "context_length": model.context_length,
        "expires_at": model.expires_at,
        "forever": forever,
    }


def _show_json(name: str, info: ShowResponse) -> dict[str, Any]:
    return {
        "name": name,
        "architecture": info.architecture or info.details.family,
        "family": info.details.family,
        "format": info.details.format,
        "parameter_size": info.details.parameter_size,
        "quantization": info.details.quantization_level,
        "context_length": info.context_length or info.details.context_length,
        "embedding_length": info.embedding_length or info.details.embedding_length,
        "capabilities": info.capabilities,
        "parameters": parse_parameters(info.parameters),
        "template": info.template,
        "system": info.system,
        "license": info.license,
        "messages": [
            {"role": message.role, "content": message.content}
            for message in info.messages or []
        ],
        "modified_at": info.modified_at,
        "modelfile": info.modelfile,
        "model_info": info.model_info,
    }


def _progress_json(update: ProgressResponse) -> str:
    data = {
        "status": update.status,
        "digest": update.digest,
        "total": update.total,
        "completed": update.completed,
    }
    return json.dumps({k: v for k, v in data.items() if v is not None})


def _follow(
    updates: Iterable[ProgressResponse], *, as_json: bool, action: str, hint: str
) -> None:
    """Show a pull/push/create stream; an error inside it becomes one line."""
    try:
        if as_json:
            for update in updates:
                click.echo(_progress_json(update))
            return
        with Progress(unit="B") as progress:
            for update in updates:
                completed = (update.completed or 0) if update.total else None
                progress.update(completed, update.total, status=update.status)
    except ResponseError as exc:
        # The stream already answered 200, so the status code says nothing;
        # the server's text and what to check next do.
        raise OllamaError(f"{action} failed: {clean(exc.error)}; {hint}") from exc


# -- the Modelfile -------------------------------------------------------------


@dataclass
class Modelfile:
    """What a Modelfile asks ``/api/create`` for, before paths become blobs.

    Attributes:
        from_: The ``FROM`` value: a model name or a path to weights.
        adapters: ``ADAPTER`` paths (LoRA weights).
        template: ``TEMPLATE``.
        system: ``SYSTEM``.
        license: Every ``LICENSE``, in order.
        parameters: ``PARAMETER`` values as written, each key with its values
            in order (``stop`` may repeat); see :func:`parse_parameter_values`.
        messages: ``MESSAGE`` turns as ``{"role", "content"}``.
        requires: ``REQUIRES``: the minimum server version.
        renderer: ``RENDERER``.
        parser: ``PARSER``.
    """

    from_: str | None = None
    adapters: list[str] = field(default_factory=list)
    template: str | None = None
    system: str | None = None
    license: list[str] = field(default_factory=list)
    parameters: dict[str, list[str]] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    requires: str | None = None
    renderer: str | None = None
    parser: str | None = None


class _Scanner:
    """Reads a Modelfile: instructions, bare words and (triple-)quoted values."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def error(self, message: str, line: int | None = None) -> ConfigError:
        return ConfigError(f"Modelfile line {line or self.line}: {message}")

    def _advance(self, end: int) -> str:
        chunk = self.text[self.pos : end]
        self.line += chunk.count("\n")
        self.pos = end
        return chunk

    def skip_blank_and_comments(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char.isspace():
                self._advance(self.pos + 1)
            elif char == "#":
                end = text.find("\n", self.pos)
                self._advance(len(text) if end < 0 else end)
            else:
                return

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def word(self) -> str:
        self.skip_spaces()
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace():
            self.pos += 1
        return self.text[start : self.pos]

    def value(self, instruction: str) -> str:
        self.skip_spaces()
        start_line = self.line
        text = self.text
        if text.startswith('"""', self.pos):
            end = text.find('"""', self.pos + 3)
            if end < 0:
                raise self.error(
                    f'{instruction}: the """ opened here is never closed', start_line
                )
            self._advance(self.pos + 3)
            value = self._advance(end)
            self._advance(end + 3)
        elif text.startswith('"', self.pos):
            value = self._quoted(instruction, start_line)
        else:
            end = text.find("\n", self.pos)
            value = self._advance(len(text) if end < 0 else end).strip()
            if not value:
                raise self.error(f"{instruction} needs a value")
            return value
        self.skip_spaces()
        if self.pos < len(text) and text[self.pos] not in "\r\n":
            raise self.error(f"{instruction}: unexpected text after the closing quote")
        return value

    def _quoted(self, instruction: str, start_line: int) -> str:
        text = self.text
        out: list[str] = []
        index = self.pos + 1
        while index < len(text):
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                out.append(text[index + 1])
                index += 2
            elif char == '"':
                self._advance(index + 1)
                return "".join(out)
            else:
                out.append(char)
                index += 1
        raise self.error(
            f'{instruction}: the " opened here is never closed', start_line
        )


def parse_modelfile(text: str) -> Modelfile:
    """Parse the text of a Modelfile.

    Instructions are case-insensitive: ``FROM``, ``PARAMETER name value``,
    ``TEMPLATE``, ``SYSTEM``, ``LICENSE`` (repeatable), ``MESSAGE role text``,
    ``ADAPTER``, ``REQUIRES``, ``RENDERER`` and ``PARSER``. A value is the rest
    of the line, a ``"quoted string"`` (``\\"`` escapes a quote), or a
    ``\"\"\"triple-quoted\"\"\"`` block that may span lines. Lines starting
    with ``#`` are comments.

    Args:
        text: The Modelfile's contents.

    Returns:
        The instructions, with values as written.

    Raises:
        ConfigError: An unknown instruction, a missing value, an unclosed
            quote, a bad ``MESSAGE`` role, or no ``FROM``; the message names
            the line.

    Examples:
        >>> parse_modelfile('FROM llama3.2\\nPARAMETER stop "<|eot|>"').parameters
        {'stop': ['<|eot|>']}
    """
    scanner = _Scanner(text)
    result = Modelfile()
    singles = ("template", "system", "requires", "renderer", "parser")
    while True:
        scanner.skip_blank_and_comments()
        if scanner.at_end():
            break
        line = scanner.line
        instruction = scanner.word().upper()
        if instruction == "FROM":
            result.from_ = scanner.value("FROM")
        elif instruction == "ADAPTER":
            result.adapters.append(scanner.value("ADAPTER"))
        elif instruction == "LICENSE":
            result.license.append(scanner.value("LICENSE"))
        elif instruction.lower() in singles:
            setattr(result, instruction.lower(), scanner.value(instruction))
        elif instruction == "PARAMETER":
            name = scanner.word()
            if not name:
                raise scanner.error("PARAMETER needs a name and a value", line)
            value = scanner.value(f"PARAMETER {name}")
            result.parameters.setdefault(name.lower(), []).append(value)
        elif instruction == "MESSAGE":
            role = scanner.word().lower()
            if role not in _ROLES:
                raise scanner.error(
                    f"MESSAGE role must be one of {', '.join(_ROLES)}, "
                    f"not {role or 'nothing'!r}",
                    line,
                )
            result.messages.append(
                {"role": role, "content": scanner.value(f"MESSAGE {role}")}
            )
        else:
            raise scanner.error(
                f"unknown instruction {instruction!r}; use FROM, PARAMETER, "
                "TEMPLATE, SYSTEM, LICENSE, MESSAGE, ADAPTER, REQUIRES, "
                "RENDERER or PARSER",
                line,
            )
    if result.from_ is None:
        raise ConfigError("the Modelfile has no FROM line; it needs a base model")
    return result


@functools.cache
def _option_kinds() -> dict[str, type]:
    # Derived from the client's Options so the CLI knows exactly the keys and
    # types the client (and the server) know.
    hints = typing.get_type_hints(Options)
    kinds: dict[str, type] = {}
    for option in dataclasses.fields(Options):
        if option.name == "extra":
            continue
        hint = hints[option.name]
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        base = args[0] if args else hint
        kinds[option.name] = list if typing.get_origin(base) is list else base
    return kinds


def _convert(name: str, kind: type, text: str) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ConfigError(f"parameter {name} must be true or false, not {text!r}")
    try:
        if kind is int:
            number = float(text)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind is float:
            return float(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"parameter {name} must be {noun}, not {text!r}") from None
    return text


def parse_parameter_values(raw: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Type Modelfile parameter values for ``/api/create``.

    Numbers become numbers and flags booleans; ``stop`` keeps every value as a
    list; any other key given twice keeps the last value.

    Args:
        raw: Each parameter name with its values as written.

    Returns:
        The ``parameters`` object of the create request.

    Raises:
        ConfigError: An unknown parameter, or a value of the wrong type.

    Examples:
        >>> parse_parameter_values({"temperature": ["0.2"], "stop": ["a", "b"]})
        {'temperature': 0.2, 'stop': ['a', 'b']}
    """
    kinds = _option_kinds()
    out: dict[str, Any] = {}
    for name, values in raw.items():
        key = name.lower()
        kind = kinds.get(key)
        if kind is None:
            raise ConfigError(
                f"unknown parameter {name!r}; known parameters: "
                f"{', '.join(sorted(kinds))}"
            )
        if kind is list:
            out[key] = list(values)
        elif values:
            out[key] = _convert(key, kind, values[-1])
    return out


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~", ".\\", "..\\")) or value.endswith(
        (".gguf", ".safetensors", ".bin")
    )


def _local_path(value: str, base: Path) -> Path | None:
    """The file or folder a FROM/ADAPTER value names, or None for a model name."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if path.exists():
        return path
    if _looks_like_path(value):
        raise ConfigError(f"{value}: no such file or folder")
    return None


def _upload(client: Client, path: Path, progress: Progress) -> dict[str, str]:
    """Upload a weights file, or every file of a weights folder, as blobs."""
    files = (
        [path]
        if path.is_file()
        else sorted(
            p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
        )
    )
    if not files:
        raise ConfigError(f"{path} holds no files to upload")
    uploaded: dict[str, str] = {}
    for file in files:
        progress.update(status=f"copying file {file.name}")
        uploaded[file.name] = client.create_blob(file)
    return uploaded


def _parameter_flag(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx, param)
        parsed.setdefault(key.strip().lower(), []).append(value)
    try:
        parse_parameter_values(parsed)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc
    return parsed


# -- commands ------------------------------------------------------------------


@cli.group("models")
def models() -> None:
    """Manage the models of the Ollama server (like the `ollama` command).

    The server is --host, else OLLAMA_HOST, else http://127.0.0.1:11434;
    OLLAMA_API_KEY is sent as a bearer token when set.

    \b
    Examples:
      ragkit models list
      ragkit models pull nomic-embed-text
      ragkit models show llama3.2 --json
      ragkit --host http://gpu-box:11434 models ps
    """


@models.command("list")
@json_option
@pass_app
def list_models(app: AppContext, as_json: bool) -> None:
    """List the installed models, most recently modified first.

    \b
    Examples:
      ragkit models list
      ragkit models list --json | jq -r '.models[].name'
    """
    with _client(app) as client:
        installed = client.list().models
    if as_json:
        echo_json({"models": [_listed_json(model) for model in installed]})
        return
    now = datetime.now(timezone.utc)
    rows = [
        [
            model.name,
            (model.digest or "")[:12],
            format_bytes(model.size or 0),
            _when(model.modified_at, now),
            model.details.parameter_size or "",
            model.details.quantization_level or "",
            ", ".join(model.capabilities or []),
        ]
        for model in installed
    ]
    headers = ["NAME", "ID", "SIZE", "MODIFIED", "PARAMS", "QUANT", "CAPABILITIES"]
    for line in _table(headers, rows):
        say(line)


@models.command("ps")
@json_option
@pass_app
def ps(app: AppContext, as_json: bool) -> None:
    """List the models loaded in memory, and until when they stay loaded.

    \b
    Examples:
      ragkit models ps
      ragkit models ps --json
    """
    with _client(app) as client:
        loaded = client.ps().models
    now = datetime.now(timezone.utc)
    if as_json:
        echo_json({"models": [_running_json(model, now) for model in loaded]})
        return
    rows = []
    for model in loaded:
        expires = parse_time(model.expires_at)
        if expires is None:
            until = ""
        elif expires <= now:
            until = "Stopping..."
        else:
            until = human_time(expires, now)
        rows.append(
            [
                model.name,
                (model.digest or "")[:12],
                format_bytes(model.size or 0),
                format_bytes(model.size_vram or 0),
                processor(model.size, model.size_vram),
                str(model.context_length or ""),
                until,
            ]
        )
    headers = ["NAME", "ID", "SIZE", "VRAM", "PROCESSOR", "CONTEXT", "UNTIL"]
    for line in _table(headers, rows):
        say(line)


_SHOW_FIELDS = ("modelfile", "parameters", "template", "system", "license")


def _print_show(name: str, info: ShowResponse) -> None:
    data = _show_json(name, info)
    rows = [
        ("architecture", data["architecture"]),
        ("parameters", data["parameter_size"]),
        ("context length", data["context_length"]),
        ("embedding length", data["embedding_length"]),
        ("quantization", data["quantization"]),
    ]
    say("  Model")
    for label, value in rows:
        if value not in (None, ""):
            say(f"    {label:<20}{value}")
    sections: list[tuple[str, list[str]]] = [("Capabilities", info.capabilities)]
    parameters = data["parameters"]
    sections.append(
        (
            "Parameters",
            [
                f"{key:<20}{json.dumps(value) if key == 'stop' else value}"
                for key, values in parameters.items()
                for value in values
            ],
        )
    )
    if info.system:
        sections.append(("System", info.system.strip().splitlines()))
    licenses = [info.license] if isinstance(info.license, str) else info.license or []
    first_lines = [text.strip().splitlines()[0] for text in licenses if text.strip()]
    sections.append(("License", first_lines))
    for title, lines in sections:
        if lines:
            say("")
            say(f"  {title}")
            for line in lines:
                say(f"    {line}")


@models.command("show")
@click.argument("name")
@click.option("--modelfile", is_flag=True, help="Print only the Modelfile.")
@click.option("--parameters", is_flag=True, help="Print only the parameters.")
@click.option("--template", is_flag=True, help="Print only the template.")
@click.option("--system", is_flag=True, help="Print only the system prompt.")
@click.option("--license", "license_", is_flag=True, help="Print only the license.")
@click.option(
    "--verbose",
    "full",
    is_flag=True,
    help="Ask for all model metadata (tokenizer arrays too); shown with --json.",
)
@json_option
@pass_app
def show(
    app: AppContext,
    name: str,
    modelfile: bool,
    parameters: bool,
    template: bool,
    system: bool,
    license_: bool,
    full: bool,
    as_json: bool,
) -> None:
    """Show a model's details, capabilities, parameters and license.

    \b
    Examples:
      ragkit models show llama3.2
      ragkit models show llama3.2 --modelfile > Modelfile
      ragkit models show nomic-embed-text --json
    """
    flags = zip(
        _SHOW_FIELDS, (modelfile, parameters, template, system, license_), strict=True
    )
    chosen = [field_name for field_name, given in flags if given]
    if len(chosen) > 1:
        raise click.UsageError(
            f"choose one of --{' / --'.join(chosen)}: each prints one part"
        )
    only = chosen[0] if chosen else None
    if only is not None and as_json:
        raise click.UsageError(f"--{only} prints plain text; leave out --json")
    with _client(app) as client:
        info = client.show(name, verbose=full)
    if as_json:
        echo_json(_show_json(name, info))
        return
    if only is None:
        _print_show(name, info)
        return
    value = getattr(info, only)
    text = "\n\n".join(value) if isinstance(value, list) else value or ""
    if text:
        say(text.rstrip("\n"))


@models.command("pull")
@click.argument("name")
@insecure_option
@json_option
@pass_app
def pull(app: AppContext, name: str, insecure: bool, as_json: bool) -> None:
    """Download a model from its registry, showing progress on stderr.

    With --json, each progress update is printed as one JSON line on stdout.

    \b
    Examples:
      ragkit models pull nomic-embed-text
      ragkit models pull llama3.2:1b
      ragkit models pull qwen3 --json | tail -n 1
    """
    with _client(app) as client, client.pull(name, insecure=insecure, stream=True) as s:
        _follow(
            s,
            as_json=as_json,
            action=f"pulling {name}",
            hint="check the model name and that the Ollama server can reach "
            "its registry",
        )


@models.command("push")
@click.argument("name")
@insecure_option
@json_option
@pass_app
def push(app: AppContext, name: str, insecure: bool, as_json: bool) -> None:
    """Upload a model (named namespace/model:tag) to its registry.

    \b
    Examples:
      ragkit models cp llama3.2 alice/llama3.2-notes
      ragkit models push alice/llama3.2-notes
    """
    with _client(app) as client, client.push(name, insecure=insecure, stream=True) as s:
        _follow(
            s,
            as_json=as_json,
            action=f"pushing {name}",
            hint="the model must be installed (see `ragkit models list`) and named "
            "<namespace>/<model>:<tag> with a namespace you may push to",
        )


@models.command("create")
@click.argument("name")
@click.option(
    "-f",
    "--file",
    "modelfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read a Modelfile.",
)
@click.option("--from", "base", metavar="BASE", help="The model to start from.")
@click.option("--system", help="System prompt (overrides the Modelfile's).")
@click.option("--template", help="Prompt template (overrides the Modelfile's).")
@click.option("--license", "license_text", help="License text.")
@click.option(
    "-p",
    "--parameter",
    "parameters",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parameter_flag,
    help="A model parameter; repeat for more (and for several stop values).",
)
@click.option(
    "-q", "--quantize", metavar="LEVEL", help="Quantize F16/F32 weights, e.g. q4_K_M."
)
@json_option
@pass_app
def create(
    app: AppContext,
    name: str,
    modelfile: Path | None,
    base: str | None,
    system: str | None,
    template: str | None,
    license_text: str | None,
    parameters: dict[str, list[str]],
    quantize: str | None,
    as_json: bool,
) -> None:
    """Create a model from a base model and settings, or from a Modelfile.

    A FROM (or --from) that names an existing file or folder uploads those
    weights first; anything else is a model name (pulled if missing).

    \b
    Examples:
      ragkit models create notes-bot --from llama3.2 --system "Answer briefly." \\
          -p temperature=0.2 -p stop="<|eot_id|>"
      ragkit models create notes-bot -f Modelfile
      ragkit models create my-model -f Modelfile --quantize q4_K_M
    """
    if modelfile is not None and base is not None:
        raise click.UsageError("give either --from or -f/--file, not both")
    if modelfile is None and base is None:
        raise click.UsageError(
            "say what to build on: --from BASE, or a Modelfile with -f FILE"
        )
    if modelfile is not None:
        try:
            text = modelfile.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {modelfile}: {exc}") from exc
        spec = parse_modelfile(text)
        folder = modelfile.resolve().parent
    else:
        spec = Modelfile(from_=base)
        folder = Path.cwd()
    spec.system = system if system is not None else spec.system
    spec.template = template if template is not None else spec.template
    if license_text is not None:
        spec.license = [license_text]
    spec.parameters.update(parameters)
    typed = parse_parameter_values(spec.parameters)
    source = spec.from_ or ""
    weights = _local_path(source, folder)
    adapter_paths = []
    for adapter in spec.adapters:
        path = _local_path(adapter, folder)
        if path is None:
            raise ConfigError(f"ADAPTER {adapter}: no such file or folder")
        adapter_paths.append(path)
    with _client(app) as client, Progress(unit="B", enabled=not as_json) as progress:
        files = _upload(client, weights, progress) if weights is not None else None
        adapters: dict[str, str] = {}
        for path in adapter_paths:
            adapters.update(_upload(client, path, progress))
        progress.close()
        stream = client.create(
            name,
            from_=None if weights is not None else source,
            files=files,
            adapters=adapters or None,
            template=spec.template,
            system=spec.system,
            license=spec.license or None,
            parameters=typed or None,
            messages=spec.messages or None,
            quantize=quantize,
            requires=spec.requires,
            renderer=spec.renderer,
            parser=spec.parser,
            stream=True,
        )
        with stream:
            _follow(
                stream,
                as_json=as_json,
                action=f"creating {name}",
                hint="check the base model, the Modelfile and --quantize",
            )


@models.command("cp")
@click.argument("source")
@click.argument("destination")
@json_option
@pass_app
def copy(app: AppContext, source: str, destination: str, as_json: bool) -> None:
    """Copy a model under a new name.

    \b
    Examples:
      ragkit models cp llama3.2 llama3.2-backup
    """
    with _client(app) as client:
        client.copy(source, destination)
    if as_json:
        echo_json({"source": source, "destination": destination, "status": "success"})
    else:
        say(f"copied '{source}' to '{destination}'")


def _stdin_is_interactive() -> bool:
    return sys.stdin.isatty()


@models.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_app
def remove(app: AppContext, names: tuple[str, ...], yes: bool, as_json: bool) -> None:
    """Delete one or more models from the server.

    It asks first; --yes skips the question (and is required when stdin is
    not a terminal, e.g. in scripts).

    \b
    Examples:
      ragkit models rm llama3.2-backup
      ragkit models rm old-a old-b --yes
    """
    if not yes:
        if not _stdin_is_interactive():
            raise click.UsageError(
                "refusing to delete models without confirmation; pass --yes"
            )
        listed = ", ".join(clean(name) for name in names)
        click.confirm(f"Delete {listed}?", abort=True, err=True)
    deleted: list[str] = []
    with _client(app) as client:
        for name in names:
            try:
                client.delete(name)
            except ModelNotFoundError as exc:
                done = f" (deleted: {', '.join(deleted)})" if deleted else ""
                raise OllamaError(
                    f"model '{name}' is not installed{done}; "
                    "`ragkit models list` shows the installed models"
                ) from exc
            deleted.append(name)
            if not as_json:
                say(f"deleted '{name}'")
    if as_json:
        echo_json({"deleted": deleted})
