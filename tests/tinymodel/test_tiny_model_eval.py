"""The shipped model shows s1's effect: a forced ``Wait`` raises held-out accuracy (real engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine


def test_forced_wait_raises_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    subprocess.run(
        [sys.executable, "-m", "tinymodel.evaluate", "--problems", "200", "--waits", "0", "1", "--json", str(out)],
        check=True,
        timeout=600,
    )
    no_wait, one_wait = json.loads(out.read_text())
    assert one_wait["accuracy"] >= 0.95
    assert no_wait["accuracy"] <= one_wait["accuracy"] - 0.20
    assert min(no_wait["well_formed"], one_wait["well_formed"]) >= 0.99
    assert one_wait["mean_thinking_tokens"] > no_wait["mean_thinking_tokens"]
