"""Helpers for the benchmark scripts: run a step in a fresh process and report seconds and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def measure(code: str) -> dict:
    """Run ``code`` in a fresh Python process; it must set ``result`` (a dict). Adds seconds and peak RSS."""
    wrapper = textwrap.dedent("""
        import json, resource, time, logging
        logging.basicConfig(level=logging.WARNING)
        t0 = time.perf_counter()
        result = {}
        {code}
        result["seconds"] = round(time.perf_counter() - t0, 2)
        result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print("RESULT " + json.dumps(result))
    """).replace("{code}", textwrap.indent(textwrap.dedent(code), "").replace("\n", "\n"))
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-6000:])
        raise SystemExit(f"benchmark step failed (exit {out.returncode})")
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])
