"""Images given as bytes, paths, base64 or data: URLs become bare base64."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ragkit.errors import ConfigError
from ragkit.ollama import encode_image

PNG = b"\x89PNG\r\n\x1a\n fake image"
B64 = base64.b64encode(PNG).decode()


def test_bytes_are_encoded() -> None:
    assert encode_image(PNG) == B64
    assert encode_image(bytearray(PNG)) == B64
    assert encode_image(memoryview(PNG)) == B64


def test_paths_are_read_and_encoded(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    assert encode_image(image) == B64
    assert encode_image(str(image)) == B64


def test_base64_text_passes_unchanged() -> None:
    assert encode_image(B64) == B64


def test_data_url_prefix_is_stripped() -> None:
    assert encode_image(f"data:image/png;base64,{B64}") == B64
    assert encode_image(f"DATA:;base64,{B64}") == B64


def test_data_url_with_bad_payload_is_rejected() -> None:
    with pytest.raises(ConfigError, match="data: URL"):
        encode_image("data:image/png;base64,not base64!")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither base64 data nor a readable file"):
        encode_image(str(tmp_path / "missing.png"))
    with pytest.raises(ConfigError):
        encode_image(tmp_path / "missing.png")
