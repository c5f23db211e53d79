"""Keyed pseudonyms (HMAC-SHA256) for 宛名番号 and 世帯番号, and the key that belongs to an out dir's outputs.

The key never appears in logs or outputs. Pseudonyms made with one key cannot be joined with those of another, so
an out dir records which key made it (a keyed hash of a constant: it identifies the key without revealing it), and
a run with another key, or without its key, stops before any step with one line (:func:`ensure_key`). A new key is
created only for an out dir that holds no pseudonymised output yet, or by ``mimamori key new``.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .. import paths
from ..errors import UserError
from ..params import Params
from ..text.normalize import map_unique_text

log = logging.getLogger(__name__)
DEFAULT_KEY_FILE = paths.DATA / "mimamori.key"
MIN_LENGTH = 32


class KeyFileError(UserError):
    """The key file is missing, unusable, or not the key the out dir's outputs were made with."""


def key_path(p: Params | None = None) -> Path:
    """``$MIMAMORI_KEY_FILE``, else the params' ``key_file``, else ``data/mimamori.key``."""
    env = os.environ.get("MIMAMORI_KEY_FILE")
    if env:
        return Path(env).expanduser()
    if p is not None and p.key_file is not None:
        return p.key_file
    return DEFAULT_KEY_FILE


def load_key(path: Path) -> bytes:
    """Read the key (never creates one): a folder, an unreadable, empty or short file is one Japanese line."""
    path = Path(path)
    if path.is_dir():
        raise KeyFileError(f"仮名化キーのパスがフォルダです: {path} (キーのファイルを指定してください)")
    if not path.exists():
        raise KeyFileError(f"仮名化キーのファイルがありません: {path} (新しく作るときは mimamori key new)")
    try:
        text = path.read_bytes().decode("ascii").strip()
    except OSError as e:
        raise KeyFileError(f"仮名化キーを読めません ({e.strerror}): {path}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"仮名化キーの形式が不正です (英数字のテキストではありません): {path}") from None
    if not text:
        raise KeyFileError(f"仮名化キーのファイルが空です: {path} (作り直すと仮名がすべて変わります。バックアップから戻してください)")
    if len(text) < MIN_LENGTH:
        raise KeyFileError(f"仮名化キーが短すぎます ({MIN_LENGTH} 文字以上必要): {path}")
    if path.stat().st_mode & 0o077:
        log.warning("仮名化キーのファイル権限が広すぎます (他のユーザーが読めます): %s", path)
    return text.encode()


def new_key(path: Path) -> Path:
    """Create a key file (32 random bytes as hex, mode 600); an existing file is never overwritten."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"仮名化キーのファイルがすでにあります: {path} (上書きはしません)") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    log.info("仮名化キーを新規作成しました (権限 600): %s", path)
    return path


def key_id(key: bytes) -> str:
    """Which key this is, without revealing it: a keyed hash of a constant."""
    return hmac.digest(key, b"mimamori:key-id", "sha256").hex()[:16]


def pseudonymiser(key: bytes, domain: str = "person") -> Callable[[str | None], str | None]:
    """The pseudonym of a normalised identifier (an HMAC; ``domain`` separates persons from households), with the
    key prepared once for every value it is given."""
    keyed = hmac.new(key, f"{domain}:".encode(), "sha256")

    def one(value: str | None) -> str | None:
        if not isinstance(value, str) or not value:
            return None
        h = keyed.copy()
        h.update(value.encode())
        return h.hexdigest()[:20]

    return one


def pseudonym(key: bytes, value: str | None, domain: str = "person") -> str | None:
    """HMAC of a normalised identifier; ``domain`` separates persons from households."""
    return pseudonymiser(key, domain)(value)


def pseudonym_series(key: bytes, values: pd.Series, domain: str = "person") -> pd.Series:
    """Pseudonyms for a Series of normalised identifiers (each distinct value hashed once, the key prepared once)."""
    return map_unique_text(values, pseudonymiser(key, domain))


def extract_id(key: bytes, fy: int, person_id: str) -> str:
    """抽出ID: stable for a child within a year, carrying nothing about the child (``25-3F9A1C``)."""
    return f"{fy % 100:02d}-" + pseudonym(key, f"{fy}:{person_id}", domain="extract")[:6].upper()


def key_if_any(p: Params) -> bytes | None:
    """The run's key if its file can be read (``None`` otherwise: nothing pseudonymous can be made or matched)."""
    try:
        return load_key(key_path(p))
    except KeyFileError:
        return None
