"""Images in chat requests, the way vLLM's OpenAI-compatible server takes them: a user message's `content` is a list
of OpenAI content parts, `{"type": "text", "text": ...}` and `{"type": "image_url", "image_url": {"url":
"data:image/png;base64,..."}}`.

vLLM 0.33.0 reads an `image_url` part's `url` (`vllm/renderers/chat_utils/chat_message.py`, the "image_url" part
parser) and decodes a data URL as RFC 2397 with base64 only (`vllm/multimodal/media/connector.py`,
`MediaConnector._load_data_url`: no ',' → "missing ',' separator"; a media type without `;base64` → "Only base64
data URLs are supported"; then `pybase64.b64decode(data, validate=True)` and PIL opens the bytes,
`vllm/multimodal/media/image.py` `ImageMediaIO.load_bytes`). `decode_data_url` and `check_image` apply the same
rules, so that the stand-in server (harness.serve) refuses what vLLM refuses.

Records keep each image's sha256 (of the decoded bytes), never the bytes: `image_sha256`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# magic numbers of the formats PIL reads that vision benchmarks ship (PNG, JPEG, GIF, WebP, BMP, TIFF)
_MIME = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
         (b"BM", "image/bmp"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))


def mime_type(data: bytes) -> str:
    """The image's media type from its first bytes; image/png when unknown (vLLM ignores the type: PIL sniffs)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((m for magic, m in _MIME if data.startswith(magic)), "image/png")


def data_url(data: bytes) -> str:
    return f"data:{mime_type(data)};base64,{base64.b64encode(data).decode('ascii')}"


def image_part(data: bytes) -> dict[str, Any]:
    """An OpenAI `image_url` content part carrying the image bytes as a base64 data URL."""
    return {"type": "image_url", "image_url": {"url": data_url(data)}}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_urls(messages: list[dict[str, Any]]) -> Iterator[str]:
    """The URL of every image part of every message, in order (a bare string `image_url` is taken as the URL, as
    vLLM's parser does)."""
    for m in messages:
        content = m.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = part.get("image_url")
                yield url.get("url", "") if isinstance(url, dict) else str(url or "")


def count(messages: list[dict[str, Any]]) -> int:
    """How many images a message list carries."""
    return sum(1 for _ in image_urls(messages))


def text_of(content: Any) -> str:
    """The text of a message content: the string itself, or its text parts joined by spaces."""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def decode_data_url(url: str) -> bytes:
    """The bytes of a base64 data URL; ValueError naming what is wrong, with the rules of vLLM 0.33.0's
    MediaConnector._load_data_url."""
    if url[:5].lower() != "data:":
        raise ValueError(f"not a data URL ({url[:32]!r}): images are sent inline as data:image/...;base64,...")
    spec, sep, payload = url[5:].partition(",")
    if not sep:
        raise ValueError(f"Invalid data URL {url[:32]!r}: missing ',' separator.")
    _media, sep, encoding = spec.rpartition(";")
    if not sep or encoding != "base64":
        raise ValueError("Only base64 data URLs are supported for now.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"the data URL's base64 payload is corrupt ({e})") from None


def sha256(url: str) -> str:
    """sha256 of the image a URL carries: its decoded bytes for a data URL, else of the URL text itself."""
    try:
        data = decode_data_url(url)
    except ValueError:
        data = url.encode()
    return hashlib.sha256(data).hexdigest()


def image_sha256(messages: list[dict[str, Any]]) -> list[str]:
    """sha256 of each image in the messages, in order (what records keep instead of the bytes)."""
    return [sha256(u) for u in image_urls(messages)]


def open_image(data: bytes):
    """A PIL image, decoded, from image bytes; ValueError when PIL cannot read them."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"the image cannot be decoded ({type(e).__name__}: {e})") from None
    return img


def load_url(url: str):
    """The RGB PIL image of a data URL (ValueError as decode_data_url / open_image)."""
    return open_image(decode_data_url(url)).convert("RGB")


def check_url(url: str) -> None:
    """Raise ValueError unless the URL is a base64 data URL of an image PIL decodes."""
    open_image(decode_data_url(url))


def row_image(value: Any, base: Path | None = None) -> bytes:
    """The bytes of a dataset row's image, as the Hugging Face `Image` feature stores it in parquet (`{"bytes": ...,
    "path": ...}`) or decodes it (a PIL image), or as a local export names it (a file path, relative to the data directory `base`). ValueError
    when there is no image or its file is missing."""

    if hasattr(value, "save"):  # a PIL image (rows loaded with `datasets` decode the Image feature)
        buf = io.BytesIO()
        value.save(buf, format=value.format or "PNG")
        return buf.getvalue()
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        value = value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not value:
        raise ValueError("the row has no image (neither bytes nor a path)")
    p = Path(value)
    if not p.is_absolute() and base is not None:
        p = base / p
    try:
        return p.read_bytes()
    except OSError as e:
        raise ValueError(f"image file {p} cannot be read ({e.strerror})") from None
