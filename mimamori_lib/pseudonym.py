"""Keyed pseudonyms (HMAC-SHA256) for 宛名番号 and 世帯番号. The key never appears in logs or outputs."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

import pandas as pd

from . import paths
from .normalize import map_unique
from .params import Params

log = logging.getLogger(__name__)
DEFAULT_KEY_FILE = paths.DATA / "mimamori.key"


def key_path(p: Params | None = None) -> Path:
    """``$MIMAMORI_KEY_FILE``, else the params' ``key_file``, else ``data/mimamori.key``."""
    env = os.environ.get("MIMAMORI_KEY_FILE")
    if env:
        return Path(env).expanduser()
    if p is not None and p.key_file is not None:
        return p.key_file
    return DEFAULT_KEY_FILE


def load_key(path: Path) -> bytes:
    """Read the key, creating it (32 random bytes, mode 600) if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        log.info("仮名化キーを新規作成しました (権限 600): %s", path)
    mode = path.stat().st_mode & 0o077
    if mode:
        log.warning("仮名化キーのファイル権限が広すぎます (他のユーザーが読めます): %s", path)
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"仮名化キーが短すぎます (32 文字以上必要): {path}")
    return text.encode()


def pseudonym(key: bytes, value: str | None, domain: str = "person") -> str | None:
    """HMAC of a normalised identifier; ``domain`` separates persons from households."""
    if not isinstance(value, str) or not value:
        return None
    return hmac.digest(key, f"{domain}:{value}".encode(), "sha256").hex()[:20]


def pseudonym_series(key: bytes, values: pd.Series, domain: str = "person") -> pd.Series:
    """Pseudonyms for a Series of normalised identifiers (each distinct value hashed once)."""
    return map_unique(values, lambda v: pseudonym(key, v, domain)).astype("string")
