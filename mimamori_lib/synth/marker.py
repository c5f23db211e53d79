"""The mark of a synthetic city: ``<raw>/mimamori_synthetic.json``, written by the generator.

Only a raw folder carrying this mark may receive made-up meeting decisions, review answers or case records
(the demo's stand-ins for staff). A city's own exports never carry it, so nothing is ever fabricated or written
into a real raw folder. The mark also says where the synthetic truth is (for tests, benchmarks and the cells
marked 「合成データのみ」).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MARKER = "mimamori_synthetic.json"


def write_marker(raw: Path, truth: Path, seed: int, children: int, years: list[int], version: str) -> Path:
    """Mark ``raw`` as a synthetic city whose truth is in ``truth``."""
    raw.mkdir(parents=True, exist_ok=True)
    f = raw / MARKER
    rel = os.path.relpath(truth.resolve(), raw.resolve())
    f.write_text(json.dumps({"generator": "mimamori synth", "version": version, "seed": seed, "children": children,
                             "years": years, "truth": rel}, ensure_ascii=False, indent=1), encoding="utf-8")
    return f


def read_marker(raw: Path) -> dict | None:
    """The synthetic city's manifest, or ``None`` for a city's own exports."""
    f = Path(raw) / MARKER
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def truth_root(raw: Path) -> Path | None:
    """The truth folder of a marked synthetic city (``None`` for real exports)."""
    m = read_marker(raw)
    if not m:
        return None
    return (Path(raw) / m.get("truth", "../synthetic_truth")).resolve()
