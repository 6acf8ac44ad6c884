"""bench.scaling: s1's Control, Scaling and Performance on hand-made points, and one quick run on the real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import RESULTS
from bench.scaling import (
    Point,
    Sample,
    control,
    first_within,
    majority_vote,
    performance,
    point,
    rejection_point,
    scaling,
    summarize,
    vote_point,
    within,
)
from tinymodel.task import Problem

REPO = Path(__file__).resolve().parents[2]


def dot(thinking: float, accuracy: float, control: float | None = None, method: str = "m") -> Point:
    return Point(method, f"t={thinking}", thinking, accuracy, control)


def test_within_is_inclusive_and_a_missing_maximum_bounds_nothing() -> None:
    assert within(16, 0, 16) and not within(17, 0, 16)
    assert within(10, 10, None) and not within(9, 10, None)
    assert within(10_000)


def test_control_averages_the_bounded_settings_only() -> None:
    assert control([dot(10, 0.5, 1.0), dot(20, 0.5, 0.5), dot(30, 1.0, None)]) == 0.75
    assert control([dot(10, 0.5), dot(20, 0.7)]) is None


def test_scaling_is_the_mean_slope_over_all_pairs_per_100_tokens() -> None:
    # Pairs: (100->200) +0.2/100, (100->300) +0.4/200 = +0.2/100, (200->300) +0.2/100.
    assert scaling([dot(300, 0.9), dot(100, 0.5), dot(200, 0.7)]) == pytest.approx(0.2)
    # Not only neighbours: (0->100) +1.0, (0->200) +0.25, (100->200) -0.5 per 100 tokens.
    assert scaling([dot(0, 0.0), dot(100, 1.0), dot(200, 0.5)]) == pytest.approx((1.0 + 0.25 - 0.5) / 3)
    assert scaling([dot(50, 0.9), dot(10, 1.0)], per=1) == pytest.approx(-0.1 / 40)


def test_scaling_skips_equal_lengths_and_needs_two_lengths() -> None:
    assert scaling([dot(10, 0.0), dot(10, 1.0), dot(20, 1.0)]) == pytest.approx((10.0 + 0.0) / 2)
    assert scaling([dot(10, 0.0), dot(10, 1.0)]) is None
    assert scaling([dot(10, 0.3)]) is None


def test_performance_is_the_best_accuracy() -> None:
    assert performance([dot(10, 0.1), dot(500, 0.6), dot(50, 0.9)]) == 0.9


def test_majority_vote_breaks_ties_by_first_seen_and_ignores_missing_answers() -> None:
    assert majority_vote([5, 7, 7, 5, 9]) == 5  # 5 and 7 tie at two votes: 5 came first
    assert majority_vote([7, 5, 5, 7]) == 7
    assert majority_vote([None, None, 3]) == 3
    assert majority_vote([4]) == 4
    assert majority_vote([None, None]) is None
    assert majority_vote([]) is None


def test_rejection_takes_the_first_fitting_sample_and_a_miss_is_out_of_bound_and_wrong() -> None:
    problems = [Problem(10, 20), Problem(30, 40)]
    pools = [
        [Sample(100, 30, True), Sample(20, 31, True), Sample(15, 30, True)],  # the 2nd fits first (wrong answer)
        [Sample(90, 70, True), Sample(80, 70, True), Sample(85, 70, True)],  # none fits 50
    ]
    assert first_within(pools[0], 50) == Sample(20, 31, True)
    assert first_within(pools[1], 50) is None
    p = rejection_point(50, pools, problems)
    assert (p.accuracy, p.control, p.thinking, p.attempts) == (0.0, 0.5, (20 + 80) / 2, (2 + 3) / 2)
    wide = rejection_point(100, pools, problems)
    assert (wide.accuracy, wide.control, wide.attempts) == (1.0, 1.0, 1.0)


def test_vote_point_counts_the_thinking_of_all_k_samples() -> None:
    problems = [Problem(1, 2), Problem(3, 4)]
    pools = [[Sample(10, 3, True), Sample(20, 4, True), Sample(30, 4, True)], [Sample(5, 7, True)] * 3]
    one, three = vote_point(1, pools, problems), vote_point(3, pools, problems)
    assert (one.thinking, one.accuracy) == ((10 + 5) / 2, 1.0)
    assert (three.thinking, three.accuracy) == ((60 + 15) / 2, 0.5)


def test_point_and_summarize() -> None:
    problems = [Problem(1, 2), Problem(3, 4)]
    runs = [Sample(16, 3, True), Sample(20, 8, False)]
    p = point("budget forcing", "max=16", runs, problems, (0, 16))
    assert (p.thinking, p.accuracy, p.control, p.well_formed) == (18.0, 0.5, 0.5, 0.5)
    assert point("x", "free", runs, problems, None).control is None
    metrics = summarize([p, dot(100, 1.0, None, "budget forcing"), dot(5, 0.2, None, "other")])
    assert [m["method"] for m in metrics] == ["budget forcing", "other"]
    assert metrics[0]["control"] == 0.5 and metrics[0]["performance"] == 1.0
    assert metrics[0]["scaling"] == pytest.approx(0.5 / 82 * 100)
    assert metrics[1]["scaling"] is None and metrics[1]["control"] is None


@pytest.mark.engine
def test_quick_run_on_the_real_engine() -> None:
    for suffix in ("json", "md", "png"):
        (RESULTS / f"scaling-test.{suffix}").unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bench.scaling", "--quick", "--out-name", "scaling-test"],
        cwd=REPO,
        check=True,
        timeout=600,
    )
    try:
        data = json.loads((RESULTS / "scaling-test.json").read_text())
        assert (RESULTS / "scaling-test.png").stat().st_size > 0
        forcing = next(m for m in data["metrics"] if m["method"] == "budget forcing")
        assert forcing["control"] == 1.0
        assert forcing["performance"] >= 0.5  # 0.9 before the model learned tools and JSON (README)
        no_waits = next(p for p in data["points"] if p["method"] == "budget forcing" and p["setting"] == "waits=0")
        assert forcing["performance"] > no_waits["accuracy"]
        assert {m["method"] for m in data["metrics"]} == {
            "budget forcing",
            "budget forcing + loop guard",
            "budget forcing + grace 16",
            "prompt-conditional",
            "rejection sampling",
            "majority voting",
        }
        graced = next(m for m in data["metrics"] if m["method"] == "budget forcing + grace 16")
        assert graced["control"] == 1.0  # within max + grace, the hard bound
        guarded = next(p for p in data["points"] if p["method"] == "budget forcing + loop guard")
        two = next(p for p in data["points"] if p["method"] == "budget forcing" and p["setting"] == "waits=2")
        assert guarded["setting"] == "waits=4" and guarded["well_formed"] == 1.0
        assert guarded["accuracy"] >= two["accuracy"] - 0.05  # past the second check, forcing stops helping
    finally:
        for suffix in ("json", "md", "png"):
            (RESULTS / f"scaling-test.{suffix}").unlink(missing_ok=True)
