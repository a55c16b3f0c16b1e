"""Turning images given as bytes, files or base64 text into the base64 the API wants."""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path

from ragkit.errors import ConfigError

__all__ = ["ImageInput", "encode_image"]

ImageInput = str | bytes | bytearray | memoryview | os.PathLike[str]
"""An image: raw bytes, a file path, base64 text, or a ``data:`` URL."""

_DATA_URL = re.compile(r"data:[^,]*;base64,", re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def encode_image(image: ImageInput) -> str:
    """Return the bare base64 text the native API expects for one image.

    Bytes are encoded; a :class:`~pathlib.Path` (or other path object) is read
    and encoded; a string that is valid base64 passes unchanged, a ``data:`` URL
    loses its prefix (the native API rejects it with 400), and any other string
    is read as a file path.

    Args:
        image: The image as bytes, a path, base64 text or a ``data:`` URL.

    Returns:
        Base64 text with padding.

    Raises:
        ConfigError: A path that cannot be read, or a ``data:`` URL whose payload
            is not base64.

    Examples:
        >>> encode_image(b"GIF89a")
        'R0lGODlh'
        >>> encode_image("data:image/png;base64,iVBORw0KGgo=")
        'iVBORw0KGgo='
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        return base64.b64encode(image).decode("ascii")
    if isinstance(image, str):
        prefix = _DATA_URL.match(image)
        if prefix is not None:
            payload = image[prefix.end() :]
            if not _is_base64(payload):
                raise ConfigError("image data: URL does not hold valid base64 data")
            return payload
        if _is_base64(image):
            return image
    path = Path(image)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"image {_short(str(path))!r} is neither base64 data nor a readable "
            f"file: {exc.strerror or exc}"
        ) from exc
    return base64.b64encode(data).decode("ascii")


def _is_base64(text: str) -> bool:
    if not text or len(text) % 4 or _BASE64.fullmatch(text) is None:
        return False
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
