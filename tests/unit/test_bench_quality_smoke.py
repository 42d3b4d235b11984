"""The quality benchmark's smoke mode runs end to end and produces sane numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BBC = REPO / ".." / "shared" / "corpus" / "bbc"


@pytest.mark.skipif(
    not BBC.is_dir(), reason="the shared BBC corpus (../shared/corpus/bbc) is absent"
)
def test_smoke_run_gives_sane_numbers(tmp_path: Path) -> None:
    output = tmp_path / "quality.json"
    subprocess.run(
        [sys.executable, "-m", "bench.quality", "--smoke", "--output", str(output)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=50,
    )
    results = json.loads(output.read_text())
    assert results["mode"] == "smoke"
    rouge = results["summary_rouge"]
    for method in ("lead-1", "brief", "key-points"):
        assert 5 < rouge[method]["rouge1"] < 80
        assert 0 <= rouge[method]["rouge2"] <= rouge[method]["rouge1"]
    assert rouge["longest_sentence_chars"] <= 600
    assert 0.6 <= results["related_bbc"]["p_at_5"] <= 1.0
    assert results["related_bbc"]["articles"] == 100
    assert results["synthetic_build"]["articles"] == 1000
    served = results["related_synthetic"]
    assert served["serving_max_rss_mb"] > 0
    for kind in ("related", "related_free_text"):
        assert served[f"{kind}_cpu_p95_ms"] > 0
    # The brief's lead sentences stop near a standfirst's length, so it beats lead-1 on ROUGE-L.
    assert rouge["brief"]["rougeL"] >= rouge["lead-1"]["rougeL"]
