"""``ragkit info``: what an index holds, without a server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from ragkit.cli._main import cli


def info(index: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--index", str(index), "info", *args])


def test_human_readable_facts(sample_index: Path) -> None:
    result = info(sample_index)
    assert result.exit_code == 0, result.output
    rows = dict(
        line.split(None, 1)
        for line in result.stdout.replace("index type", "index_type")
        .replace("size on disk", "size")
        .replace("last update", "updated")
        .splitlines()
    )
    assert rows["documents"] == "13"
    assert int(rows["chunks"]) > 13
    assert rows["embedding"] == "nomic-embed-text (768 dimensions, cosine)"
    assert rows["index_type"] == "flat (auto)"
    assert rows["size"].endswith("KiB")
    assert rows["pipeline"] == "general"
    assert rows["prefixes"] == ('document "search_document: ", query "search_query: "')


def test_json_facts(sample_index: Path) -> None:
    data = json.loads(info(sample_index, "--json").stdout)
    assert data["documents"] == 13
    assert data["dimension"] == 768
    assert data["embed_model"] == "nomic-embed-text"
    assert data["index_type"] == "flat"
    assert data["size_bytes"] == sum(data["files"].values()) > 0
    assert data["updated_at"] and data["pipeline"] == "general"
    assert data["query_prefix"] == "search_query: "


def test_missing_index(tmp_path: Path) -> None:
    result = info(tmp_path / "none")
    assert result.exit_code == 1
    assert "run `ragkit index <folder>`" in result.stderr
