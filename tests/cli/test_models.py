"""``ragkit models …`` against FakeOllama over loopback, and the Modelfile parser."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import ragkit.cli._models as models_cli
from ragkit.cli._main import cli
from ragkit.cli._models import (
    Modelfile,
    human_time,
    parse_modelfile,
    parse_parameter_values,
    processor,
)
from ragkit.errors import ConfigError
from ragkit.ollama import Client
from ragkit.testing import FakeOllama, RequestRecord


@pytest.fixture
def run(fake_ollama: FakeOllama) -> Any:
    """Invoke ``ragkit --host <fake> ...`` and return the click result."""

    def invoke(*args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--host", fake_ollama.url, *args], input=input)

    return invoke


def logged(server: FakeOllama, prefix: str) -> list[RequestRecord]:
    """The requests whose path starts with ``prefix`` (logged before the reply)."""
    return [r for r in server.requests if r.path.startswith(prefix)]


def _last_body(server: FakeOllama, path: str) -> Any:
    bodies = [r.body for r in logged(server, path)]
    assert bodies, f"no request to {path}"
    return bodies[-1]


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ")
    return lines[-1]


# -- list ----------------------------------------------------------------------


def test_list_prints_a_table_of_installed_models(run: Any) -> None:
    result = run("models", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "ID",
        "SIZE",
        "MODIFIED",
        "PARAMS",
        "QUANT",
        "CAPABILITIES",
    ]
    nomic = next(line for line in lines if line.startswith("nomic-embed-text:latest"))
    assert "274 MB" in nomic and "137M" in nomic and "F16" in nomic
    assert "ago" in nomic
    qwen = next(line for line in lines if line.startswith("qwen3:latest"))
    assert qwen.endswith("completion, tools, thinking")
    assert result.stderr == ""


def test_list_json_shape(run: Any) -> None:
    result = run("models", "list", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    names = [model["name"] for model in data["models"]]
    assert "llama3.2:latest" in names
    nomic = data["models"][names.index("nomic-embed-text:latest")]
    assert set(nomic) == {
        "name",
        "digest",
        "size",
        "size_human",
        "modified_at",
        "family",
        "parameter_size",
        "quantization",
        "capabilities",
    }
    assert nomic["size"] == 274_302_450
    assert nomic["size_human"] == "274 MB"
    assert nomic["quantization"] == "F16"
    assert nomic["capabilities"] == ["embedding"]
    assert len(nomic["digest"]) == 64


# -- ps ------------------------------------------------------------------------


def test_ps_with_nothing_loaded_prints_only_the_header(run: Any) -> None:
    result = run("models", "ps")
    assert result.exit_code == 0
    assert result.stdout.split() == [
        "NAME",
        "ID",
        "SIZE",
        "VRAM",
        "PROCESSOR",
        "CONTEXT",
        "UNTIL",
    ]
    assert json.loads(run("models", "ps", "--json").stdout) == {"models": []}


def test_ps_shows_loaded_models_and_forever(run: Any, fake_ollama: FakeOllama) -> None:
    with Client(fake_ollama.url) as client:
        client.generate("llama3.2", keep_alive=-1)
        client.embed("nomic-embed-text", "warm up", keep_alive="10m")
    result = run("models", "ps")
    assert result.exit_code == 0, result.output
    llama = next(line for line in result.stdout.splitlines() if "llama3.2" in line)
    assert llama.endswith("Forever")
    assert "100% GPU" in llama and "2.0 GB" in llama
    nomic = next(line for line in result.stdout.splitlines() if "nomic" in line)
    assert nomic.endswith("minutes from now")
    data = json.loads(run("models", "ps", "--json").stdout)
    by_name = {model["name"]: model for model in data["models"]}
    assert by_name["llama3.2:latest"]["forever"] is True
    assert by_name["nomic-embed-text:latest"]["forever"] is False
    assert set(by_name["llama3.2:latest"]) == {
        "name",
        "digest",
        "size",
        "size_vram",
        "processor",
        "context_length",
        "expires_at",
        "forever",
    }
    assert by_name["llama3.2:latest"]["processor"] == "100% GPU"


# -- show ----------------------------------------------------------------------


def test_show_prints_details_capabilities_parameters_and_license(run: Any) -> None:
    result = run("models", "show", "llama3.2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "architecture        llama" in out
    assert "context length      131072" in out
    assert "embedding length    3072" in out
    assert "quantization        Q4_K_M" in out
    assert "  Capabilities\n    completion\n    tools\n" in out
    assert 'stop                "<|eot_id|>"' in out
    assert "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT" in out


def test_show_json_shape(run: Any) -> None:
    result = run("models", "show", "nomic-embed-text", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["embedding_length"] == 768
    assert data["context_length"] == 2048
    assert data["capabilities"] == ["embedding"]
    assert data["parameters"] == {"num_ctx": ["8192"]}
    assert data["license"] == "Apache License Version 2.0"
    assert data["model_info"]["general.architecture"] == "nomic-bert"
    assert data["modelfile"].startswith("# Modelfile generated by")


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--modelfile", "FROM "),
        ("--parameters", "num_ctx"),
        ("--license", "Apache License Version 2.0"),
    ],
)
def test_show_single_part(run: Any, flag: str, expected: str) -> None:
    result = run("models", "show", "nomic-embed-text", flag)
    assert result.exit_code == 0
    assert expected in result.stdout
    assert "Capabilities" not in result.stdout


def test_show_empty_part_prints_nothing(run: Any) -> None:
    result = run("models", "show", "nomic-embed-text", "--system")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_show_refuses_two_parts_or_a_part_with_json(run: Any) -> None:
    two = run("models", "show", "llama3.2", "--template", "--system")
    assert two.exit_code == 2
    assert "choose one of" in two.stderr
    with_json = run("models", "show", "llama3.2", "--template", "--json")
    assert with_json.exit_code == 2
    assert "leave out --json" in with_json.stderr


def test_show_missing_model_is_one_line_with_the_pull_hint(run: Any) -> None:
    line = _one_error_line(run("models", "show", "nope"))
    assert "not found" in line
    assert "ragkit models pull nope" in line


# -- pull and push -------------------------------------------------------------


def test_pull_prints_plain_progress_lines_when_piped(
    run: Any, fake_ollama: FakeOllama
) -> None:
    assert fake_ollama.model("bge-m3") is None
    result = run("models", "pull", "bge-m3")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "pulling manifest"
    assert lines[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [line for line in lines if line.startswith("pulling ") and "%" in line]
    assert layers, lines
    assert any(line.endswith("(218 MB/218 MB)") for line in layers)
    assert not any("\r" in line or "\x1b" in line for line in lines)
    assert fake_ollama.model("bge-m3") is not None


def test_pull_draws_a_bar_on_a_terminal(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ragkit.cli._progress.is_terminal", lambda stream: True)
    monkeypatch.delenv("TERM", raising=False)
    result = run("models", "pull", "bge-m3")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    screen = [line.split("\r\x1b[K")[-1] for line in result.stderr.split("\n")]
    assert screen[0] == "pulling manifest"
    bars = [line for line in screen if "▕" in line]
    assert bars and all("100%" in line for line in bars)
    assert any("218 MB/218 MB" in line for line in bars)
    assert screen[-2:] == ["success", ""]


def test_pull_json_prints_ndjson_progress(run: Any) -> None:
    result = run("models", "pull", "all-minilm", "--json")
    assert result.exit_code == 0
    updates = [json.loads(line) for line in result.stdout.splitlines()]
    assert updates[0] == {"status": "pulling manifest"}
    assert updates[-1] == {"status": "success"}
    layer = next(u for u in updates if "completed" in u)
    assert set(layer) == {"status", "digest", "total", "completed"}
    assert result.stderr == ""


def test_pull_error_inside_the_stream_is_one_line(run: Any) -> None:
    result = run("models", "pull", "missing-model")
    line = _one_error_line(result)
    assert "pulling missing-model failed" in line
    assert "file does not exist" in line
    assert "status code" not in line
    # the progress line printed before the error is finished, not overwritten
    assert result.stderr.splitlines()[0] == "pulling manifest"


def test_pull_cut_connection_is_one_line(run: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.fail_next(1, "cut", endpoint="/api/pull")
    line = _one_error_line(run("models", "pull", "llama3.2"))
    assert "connection" in line


def test_push_shows_progress_and_refuses_a_missing_model(run: Any) -> None:
    ok = run("models", "push", "llama3.2")
    assert ok.exit_code == 0, ok.output
    assert ok.stderr.splitlines()[-2:] == ["pushing manifest", "success"]
    line = _one_error_line(run("models", "push", "alice/absent:latest"))
    assert "pushing alice/absent:latest failed" in line
    assert "no such file or directory" in line


# -- create --------------------------------------------------------------------


def test_create_from_flags(run: Any, fake_ollama: FakeOllama) -> None:
    result = run(
        "models",
        "create",
        "notes-bot",
        "--from",
        "llama3.2",
        "--system",
        "Answer briefly.",
        "-p",
        "temperature=0.2",
        "-p",
        "stop=<|eot_id|>",
        "-p",
        "stop=###",
        "-p",
        "num_ctx=8192",
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "success"
    body = _last_body(fake_ollama, "/api/create")
    assert body == {
        "model": "notes-bot",
        "from": "llama3.2",
        "system": "Answer briefly.",
        "parameters": {
            "temperature": 0.2,
            "stop": ["<|eot_id|>", "###"],
            "num_ctx": 8192,
        },
        "stream": True,
    }
    created = fake_ollama.model("notes-bot")
    assert created is not None and created.system == "Answer briefly."


_MODELFILE = '''
# a comment
FROM llama3.2
parameter temperature 0.3
PARAMETER stop "<|start_header_id|>"
PARAMETER stop <|eot_id|>
SYSTEM """You answer questions about the handbook.
Quote it; say "I don't know" otherwise."""
TEMPLATE """{{ .System }}
{{ .Prompt }}"""
LICENSE MIT
MESSAGE user Where are the keys?
MESSAGE assistant "In the \\"vault\\"."
'''


def test_create_from_a_modelfile(
    run: Any, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    path = tmp_path / "Modelfile"
    path.write_text(_MODELFILE, encoding="utf-8")
    result = run("models", "create", "handbook", "-f", str(path))
    assert result.exit_code == 0, result.output
    body = _last_body(fake_ollama, "/api/create")
    assert body == {
        "model": "handbook",
        "from": "llama3.2",
        "system": "You answer questions about the handbook.\n"
        'Quote it; say "I don\'t know" otherwise.',
        "template": "{{ .System }}\n{{ .Prompt }}",
        "license": ["MIT"],
        "parameters": {
            "temperature": 0.3,
            "stop": ["<|start_header_id|>", "<|eot_id|>"],
        },
        "messages": [
            {"role": "user", "content": "Where are the keys?"},
            {"role": "assistant", "content": 'In the "vault".'},
        ],
        "stream": True,
    }


def test_create_flags_override_the_modelfile(
    run: Any, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    path = tmp_path / "Modelfile"
    path.write_text("FROM llama3.2\nSYSTEM old\nPARAMETER top_k 20\n", encoding="utf-8")
    result = run(
        "models", "create", "m2", "-f", str(path), "--system", "new", "-p", "top_k=5"
    )
    assert result.exit_code == 0, result.output
    body = _last_body(fake_ollama, "/api/create")
    assert body["system"] == "new"
    assert body["parameters"] == {"top_k": 5}


def test_create_from_a_local_weights_file_uploads_a_blob(
    run: Any, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    weights = b"GGUF" + bytes(range(256)) * 64
    (tmp_path / "model.gguf").write_bytes(weights)
    (tmp_path / "Modelfile").write_text(
        "FROM ./model.gguf\nPARAMETER num_ctx 4096\n", encoding="utf-8"
    )
    digest = "sha256:" + hashlib.sha256(weights).hexdigest()
    result = run(
        "models", "create", "local", "-f", str(tmp_path / "Modelfile"), "-q", "q4_K_M"
    )
    assert result.exit_code == 0, result.output
    uploads = logged(fake_ollama, "/api/blobs/")
    assert [(r.method, r.path) for r in uploads] == [("POST", f"/api/blobs/{digest}")]
    body = _last_body(fake_ollama, "/api/create")
    assert body["files"] == {"model.gguf": digest}
    assert "from" not in body
    assert body["quantize"] == "q4_K_M"
    assert "copying file model.gguf" in result.stderr
    assert any(
        "quantizing F16 model to Q4_K_M" in line for line in result.stderr.splitlines()
    )


def test_create_from_a_weights_folder_and_an_adapter(
    run: Any, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"\x00" * 100)
    (folder / ".hidden").write_text("skip me", encoding="utf-8")
    (tmp_path / "lora.gguf").write_bytes(b"lora")
    (tmp_path / "Modelfile").write_text(
        f"FROM {folder}\nADAPTER lora.gguf\n", encoding="utf-8"
    )
    result = run("models", "create", "tuned", "-f", str(tmp_path / "Modelfile"))
    assert result.exit_code == 0, result.output
    body = _last_body(fake_ollama, "/api/create")
    assert sorted(body["files"]) == ["config.json", "model.safetensors"]
    assert body["adapters"] == {
        "lora.gguf": "sha256:" + hashlib.sha256(b"lora").hexdigest()
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "llama3.2", "-f", "Modelfile"], "not both"),
        ([], "--from BASE"),
        (["--from", "llama3.2", "-p", "temperature"], "is not KEY=VALUE"),
        (["--from", "llama3.2", "-p", "temperature=hot"], "must be a number"),
        (["--from", "llama3.2", "-p", "colour=red"], "unknown parameter 'colour'"),
    ],
)
def test_create_usage_errors(
    run: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Modelfile").write_text("FROM llama3.2\n", encoding="utf-8")
    result = run("models", "create", "x", *args)
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "FROM llama3.2\nSYSTEMS hi\n",
            "Modelfile line 2: unknown instruction 'SYSTEMS'",
        ),
        ("FROM ./absent.gguf\n", "./absent.gguf: no such file or folder"),
        ("FROM llama3.2\nADAPTER absent-adapter\n", "ADAPTER absent-adapter"),
        ("FROM llama3.2\nPARAMETER num_ctx big\n", "num_ctx must be a whole number"),
    ],
)
def test_create_bad_modelfile_is_one_line(
    run: Any, fake_ollama: FakeOllama, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "Modelfile"
    path.write_text(text, encoding="utf-8")
    line = _one_error_line(run("models", "create", "x", "-f", str(path)))
    assert message in line
    assert fake_ollama.counts("/api/create") == 0


def test_create_server_error_is_one_line(run: Any) -> None:
    line = _one_error_line(
        run("models", "create", "x", "--from", "llama3.2", "--quantize", "q4_K_M")
    )
    assert "creating x failed" in line
    assert "quantization is only supported for F16, BF16 and F32 models" in line


# -- cp and rm -----------------------------------------------------------------


def test_cp_copies(run: Any, fake_ollama: FakeOllama) -> None:
    result = run("models", "cp", "llama3.2", "backup")
    assert result.exit_code == 0
    assert result.stdout == "copied 'llama3.2' to 'backup'\n"
    assert fake_ollama.model("backup") is not None
    data = json.loads(run("models", "cp", "llama3.2", "backup2", "--json").stdout)
    assert data == {"source": "llama3.2", "destination": "backup2", "status": "success"}


def test_cp_missing_source_is_one_line(run: Any) -> None:
    line = _one_error_line(run("models", "cp", "nope", "other"))
    assert "not found" in line


def test_rm_with_yes_deletes_every_name(run: Any, fake_ollama: FakeOllama) -> None:
    result = run("models", "rm", "llava", "qwen3", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["deleted 'llava'", "deleted 'qwen3'"]
    assert fake_ollama.model("llava") is None and fake_ollama.model("qwen3") is None


def test_rm_refuses_without_yes_when_not_interactive(
    run: Any, fake_ollama: FakeOllama
) -> None:
    result = run("models", "rm", "llava")
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert fake_ollama.model("llava") is not None
    assert fake_ollama.counts("/api/delete") == 0


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False)])
def test_rm_asks_for_confirmation_on_a_terminal(
    run: Any,
    fake_ollama: FakeOllama,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    deleted: bool,
) -> None:
    monkeypatch.setattr(models_cli, "_stdin_is_interactive", lambda: True)
    result = run("models", "rm", "llava", input=answer)
    assert "Delete llava? [y/N]" in result.stderr
    assert (fake_ollama.model("llava") is None) is deleted
    assert result.exit_code == (0 if deleted else 1)


def test_rm_missing_model_is_one_line_and_names_what_was_deleted(
    run: Any, fake_ollama: FakeOllama
) -> None:
    line = _one_error_line(run("models", "rm", "llava", "nope", "qwen3", "-y"))
    assert "model 'nope' is not installed (deleted: llava)" in line
    assert "ragkit models list" in line
    assert fake_ollama.model("qwen3") is not None


def test_rm_json(run: Any) -> None:
    result = run("models", "rm", "llava", "--yes", "--json")
    assert json.loads(result.stdout) == {"deleted": ["llava"]}


# -- host and errors -----------------------------------------------------------


@pytest.fixture
def down_url(fake_ollama_factory: Any) -> str:
    server = fake_ollama_factory()
    url: str = server.url
    server.stop()
    return url


def test_server_down_is_one_line_with_the_hint(down_url: str) -> None:
    result = CliRunner().invoke(cli, ["--host", down_url, "models", "list"])
    line = _one_error_line(result)
    assert f"cannot connect to Ollama at {down_url}" in line
    assert "ollama serve" in line and "OLLAMA_HOST" in line


def test_server_down_with_verbose_shows_the_traceback(down_url: str) -> None:
    result = CliRunner().invoke(cli, ["--host", down_url, "--verbose", "models", "ps"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "OllamaConnectionError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: cannot connect")


def test_host_comes_from_ollama_host(fake_ollama_env: FakeOllama) -> None:
    result = CliRunner().invoke(cli, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert len(logged(fake_ollama_env, "/api/tags")) == 1


def test_api_key_is_sent_as_bearer_token(
    fake_ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "secret-key")
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 0
    (record,) = logged(fake_ollama_env, "/api/tags")
    assert record.headers["authorization"] == "Bearer secret-key"
    assert "secret-key" not in result.output


def test_unusable_host_is_one_line() -> None:
    result = CliRunner().invoke(
        cli, ["--host", "ftp://example.invalid", "models", "ps"]
    )
    line = _one_error_line(result)
    assert "ftp://example.invalid" in line


# -- the installed command -----------------------------------------------------

RAGKIT = Path(sys.executable).with_name("ragkit")


@pytest.mark.skipif(not RAGKIT.exists(), reason="the ragkit script is not installed")
def test_installed_ragkit_pulls_and_lists_in_a_subprocess(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    env = {**os.environ, "OLLAMA_HOST": fake_ollama.url}
    pulled = subprocess.run(
        [str(RAGKIT), "models", "pull", "bge-m3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout == ""
    assert pulled.stderr.splitlines()[-1] == "success"
    listed = subprocess.run(
        [str(RAGKIT), "--index", str(tmp_path / "none"), "models", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    names = [model["name"] for model in json.loads(listed.stdout)["models"]]
    assert "bge-m3:latest" in names


# -- Modelfile parsing ---------------------------------------------------------


def test_parse_modelfile_every_instruction() -> None:
    parsed = parse_modelfile(_MODELFILE + "REQUIRES 0.12.0\nADAPTER ./lora.gguf\n")
    assert parsed == Modelfile(
        from_="llama3.2",
        adapters=["./lora.gguf"],
        template="{{ .System }}\n{{ .Prompt }}",
        system="You answer questions about the handbook.\n"
        'Quote it; say "I don\'t know" otherwise.',
        license=["MIT"],
        parameters={
            "temperature": ["0.3"],
            "stop": ["<|start_header_id|>", "<|eot_id|>"],
        },
        messages=[
            {"role": "user", "content": "Where are the keys?"},
            {"role": "assistant", "content": 'In the "vault".'},
        ],
        requires="0.12.0",
    )


def test_parse_modelfile_triple_quotes_keep_inner_quotes_and_blank_lines() -> None:
    text = 'FROM m\nSYSTEM """\nline one\n\n  "quoted" line\n"""\nPARAMETER seed 1\n'
    parsed = parse_modelfile(text)
    assert parsed.system == '\nline one\n\n  "quoted" line\n'
    assert parsed.parameters == {"seed": ["1"]}


def test_parse_modelfile_several_licenses_and_crlf() -> None:
    parsed = parse_modelfile('FROM m\r\nLICENSE """A"""\r\nLICENSE B\r\n')
    assert parsed.license == ["A", "B"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('FROM m\n\nSYSTEM """never closed\n', 'line 3: SYSTEM: the """ opened here'),
        ('FROM m\nSYSTEM "open\n', 'line 2: SYSTEM: the " opened here'),
        ("FROM m\nMESSAGE robot hi\n", "line 2: MESSAGE role must be one of"),
        ("FROM m\nPARAMETER\n", "line 2: PARAMETER needs a name"),
        ("FROM m\nPARAMETER stop\n", "line 2: PARAMETER stop needs a value"),
        ('FROM m\nSYSTEM "a" b\n', "line 2: SYSTEM: unexpected text after"),
        ("SYSTEM hi\n", "has no FROM line"),
        ("FROM m\nRUN rm -rf /\n", "line 2: unknown instruction 'RUN'"),
    ],
)
def test_parse_modelfile_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_modelfile(text)
    assert message in str(info.value)


def test_parse_parameter_values_types() -> None:
    typed = parse_parameter_values(
        {
            "temperature": ["0.7"],
            "num_ctx": ["4096"],
            "use_mmap": ["false"],
            "stop": ["a", "b"],
            "seed": ["1", "42"],
            "TOP_K": ["40"],
        }
    )
    assert typed == {
        "temperature": 0.7,
        "num_ctx": 4096,
        "use_mmap": False,
        "stop": ["a", "b"],
        "seed": 42,
        "top_k": 40,
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mirostat_tau": ["5"]}, "unknown parameter 'mirostat_tau'"),
        ({"num_ctx": ["4.5"]}, "num_ctx must be a whole number"),
        ({"top_p": ["high"]}, "top_p must be a number"),
        ({"use_mmap": ["maybe"]}, "use_mmap must be true or false"),
    ],
)
def test_parse_parameter_values_errors(raw: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_parameter_values(raw)
    assert message in str(info.value)


# -- formatting helpers --------------------------------------------------------

_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-0.5), "less than a second ago"),
        (timedelta(seconds=-1.5), "1 second ago"),
        (timedelta(seconds=-30), "30 seconds ago"),
        (timedelta(seconds=-90), "about a minute ago"),
        (timedelta(minutes=-45), "45 minutes ago"),
        (timedelta(minutes=-90), "about an hour ago"),
        (timedelta(hours=-30), "30 hours ago"),
        (timedelta(days=-3), "3 days ago"),
        (timedelta(days=-21), "3 weeks ago"),
        (timedelta(days=-100), "3 months ago"),
        (timedelta(days=-800), "2 years ago"),
        (timedelta(minutes=4, seconds=59), "4 minutes from now"),
        (timedelta(days=365 * 19), "19 years from now"),
        (timedelta(days=365 * 21), "Forever"),
    ],
)
def test_human_time(delta: timedelta, text: str) -> None:
    assert human_time(_NOW + delta, _NOW) == text


@pytest.mark.parametrize(
    ("size", "vram", "text"),
    [
        (100, 100, "100% GPU"),
        (100, 0, "100% CPU"),
        (100, None, "100% CPU"),
        (4, 1, "75%/25% CPU/GPU"),
    ],
)
def test_processor(size: int, vram: int | None, text: str) -> None:
    assert processor(size, vram) == text
