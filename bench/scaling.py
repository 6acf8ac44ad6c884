"""s1's test-time-scaling figure in miniature, accuracy against thinking tokens per method: ``python -m bench.scaling``.

The shipped model on held-out additions, four ways of spending test-time compute, one offline ``vllm.LLM``:

- budget forcing (ours, inside one decode): a sweep of forced ``Wait``s and of maxima; beyond s1, the same
  sweeps with the loop guard on and with a graceful maximum;
- prompt-conditional length control (s1's token-conditional baseline): "Think for at most N tokens.";
- rejection sampling: seeded samples until one's thinking fits N (capped; a miss counts against Control);
- majority voting over k samples, its thinking tokens the total over the k (an equal-compute comparison).

Per method, s1's Control, Scaling and Performance (see ``NOTES``). The metric functions are pure so that
tests can pin them on hand-made points.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from typing import Any

from tqdm import tqdm

from bench.offline import encode_chats, load_llm
from bench.report import RESULTS, markdown_table, write_results
from server.thinking.plan import GenerationPlan
from server.thinking.spec import BudgetSpec, to_budget
from server.thinking.tokens import ThinkingTokens, resolve_thinking_tokens
from tinymodel.task import Problem, held_out_problems, is_well_formed, parse_answer

MAX_TOKENS = 1024  # thinking + answer: four careful passes of the tiny model fit with room to spare
FULL = {"waits": (0, 1, 2, 4, 8), "maxima": {1: (16, 32, 64, 128), 8: (8, 16, 32, 64, 128, 256)}, "attempts": 16,
        "stated": (16, 32, 64, 128), "rejection": (24, 64, 128, 256), "votes": (1, 2, 4, 8, 16),
        "guarded": (1, 2, 4, 8), "grace": 16}  # fmt: skip
QUICK = {"waits": (0, 1, 2), "maxima": {1: (64, 128), 8: (128,)}, "guarded": (4,), "grace": 16,
         "stated": (32, 128), "rejection": (24, 128), "attempts": 8, "votes": (1, 4, 8)}  # fmt: skip
TITLE = "Test-time scaling of the tiny reasoner: accuracy against thinking tokens"
Bound = tuple[int, int | None] | None
WAITS = "budget forcing: forced Waits, no maximum"
METRIC_COLUMNS = ["method", "control", "scaling", "performance"]
POINT_COLUMNS = ["method", "setting", "thinking", "accuracy", "control", "well_formed", "attempts"]


@dataclass(frozen=True)
class Sample:
    """One completion, reduced to what the metrics need."""

    thinking: int  # tokens before </think> (all of the output when the thinking never closed)
    answer: int | None
    well_formed: bool


@dataclass(frozen=True)
class Point:
    """One budget setting of one method: a dot of the figure."""

    method: str
    setting: str
    thinking: float  # mean thinking tokens per problem
    accuracy: float
    control: float | None  # share of runs within the stated bound; None: the setting states none
    well_formed: float | None = None
    attempts: float | None = None  # rejection sampling: mean samples drawn per problem
    series: str | None = None  # the plot's line when a method has several sweeps (default: the method)


def within(tokens: int, low: int = 0, high: int | None = None) -> bool:
    """s1's Control indicator: the thinking is in [low, high] (no maximum: any length above low)."""
    return tokens >= low and (high is None or tokens <= high)


def control(points: list[Point]) -> float | None:
    """Share of runs within their bound, over the settings that state one (equal-sized settings)."""
    bounded = [p.control for p in points if p.control is not None]
    return sum(bounded) / len(bounded) if bounded else None


def scaling(points: list[Point], per: float = 100.0) -> float | None:
    """s1's Scaling: the mean slope over all pairs of points (b thinks more than a), per ``per`` tokens.

    All pairs, not only neighbours, as in s1 (one noisy point moves it less); equal lengths have no slope.
    """
    slopes = [
        (b.accuracy - a.accuracy) / (b.thinking - a.thinking) * per
        for a, b in combinations(sorted(points, key=lambda p: p.thinking), 2)
        if b.thinking > a.thinking
    ]
    return sum(slopes) / len(slopes) if slopes else None


def performance(points: list[Point]) -> float:
    """s1's Performance: the best accuracy any setting reaches."""
    return max(p.accuracy for p in points)


def majority_vote(answers: list[int | None]) -> int | None:
    """The most common parsed answer, a tie to the one seen first (k=1: the sample); samples with none abstain."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)


def first_within(samples: list[Sample], limit: int) -> Sample | None:
    """Rejection sampling: the first sample, in draw order, whose thinking fits ``limit``."""
    return next((s for s in samples if s.thinking <= limit), None)


def point(
    method: str, setting: str, runs: list[Sample], problems: list[Problem], bound: Bound, series: str = ""
) -> Point:
    """A setting's dot from one sample per problem (``bound``: the stated [low, high], or None)."""
    n = len(problems)
    return Point(
        method,
        setting,
        thinking=sum(s.thinking for s in runs) / n,
        accuracy=sum(s.answer == p.answer for s, p in zip(runs, problems, strict=True)) / n,
        control=None if bound is None else sum(within(s.thinking, *bound) for s in runs) / n,
        well_formed=sum(s.well_formed for s in runs) / n,
        series=series or None,
    )


def rejection_point(limit: int, pools: list[list[Sample]], problems: list[Problem]) -> Point:
    """A miss (no sample fits) is out of budget and wrong; its thinking is the shortest sample's."""
    picked = [first_within(pool, limit) for pool in pools]
    runs = [s or Sample(min(x.thinking for x in pool), None, False) for s, pool in zip(picked, pools, strict=True)]
    drawn = [pool.index(s) + 1 if s else len(pool) for s, pool in zip(picked, pools, strict=True)]
    base = point("rejection sampling", f"N={limit}", runs, problems, (0, limit))  # a miss is out of the bound
    return replace(base, attempts=sum(drawn) / len(pools))


def vote_point(k: int, pools: list[list[Sample]], problems: list[Problem]) -> Point:
    """Majority over the first k samples; its thinking tokens are the k samples' total."""
    votes = [majority_vote([s.answer for s in pool[:k]]) for pool in pools]
    thinking = sum(s.thinking for pool in pools for s in pool[:k]) / len(problems)
    accuracy = sum(v == p.answer for v, p in zip(votes, problems, strict=True)) / len(problems)
    return Point("majority voting", f"k={k}", thinking, accuracy, control=None)


def summarize(points: list[Point]) -> list[dict[str, Any]]:
    """s1's three metrics per method, in the order the methods first appear."""
    methods = dict.fromkeys(p.method for p in points)
    return [
        {"method": m, "control": control(ps), "scaling": scaling(ps), "performance": performance(ps)}
        for m in methods
        for ps in [[p for p in points if p.method == m]]
    ]


class Runner:
    """The engine, the tokenizer and the problems: turns a budget setting into samples."""

    def __init__(self, llm: Any, problems: list[Problem]) -> None:
        self.llm, self.problems = llm, problems
        self.tokenizer = llm.get_tokenizer()
        self.thinking: ThinkingTokens = resolve_thinking_tokens(self.tokenizer)

    def prompts(self, instruction: str = "") -> list[list[int]]:
        """The chat template opens the thinking (it ends with ``<think>\\n``), as the server's does."""
        return encode_chats(self.tokenizer, [f"{p.question} {instruction}".strip() for p in self.problems])

    def run(self, prompts: list[list[int]], params: list[Any]) -> list[Sample]:
        """In batches that prefill whole in one step: vLLM 0.32's CPU runner dies ("CPU Generator does not use
        offset") when it rewinds a seeded request's generator after a split prefill."""
        from vllm import TokensPrompt

        limits = self.llm.llm_engine.vllm_config.scheduler_config
        step = min(limits.max_num_seqs, limits.max_num_batched_tokens // max(map(len, prompts)))
        samples = []
        for i in range(0, len(prompts), step):
            batch = [TokensPrompt(prompt_token_ids=p) for p in prompts[i : i + step]]
            for output in self.llm.generate(batch, params[i : i + step], use_tqdm=False):
                ids, text = list(output.outputs[0].token_ids), output.outputs[0].text
                thinking = ids.index(self.thinking.end) if self.thinking.end in ids else len(ids)
                samples.append(Sample(thinking, parse_answer(text), is_well_formed(text)))
        return samples

    def params(self, temperature: float, seed: int, args: dict[str, Any] | None = None) -> Any:
        from vllm import SamplingParams

        skip = self.thinking.skip_special_tokens  # keep </think> in the text when it is a special token
        return SamplingParams(
            temperature=temperature, seed=seed, max_tokens=MAX_TOKENS, extra_args=args, skip_special_tokens=skip
        )

    def forcing(self, waits: int, maximum: int | None, guard: bool = False, grace: int = 0) -> list[Point]:
        """Greedy budget forcing; the budget travels in ``extra_args`` exactly as the server sends it.

        ``guard``: the loop guard on (its own method); ``grace``: a graceful maximum (its own method, Control
        against ``max + grace``, the hard bound).
        """
        spec = BudgetSpec(0, maximum, waits, "Wait", "Final Answer:", end_grace=grace, loop_guard=guard)
        budget = to_budget(spec, self.thinking, self.tokenizer) if spec.is_active else None
        params = self.params(0.0, 0, GenerationPlan(budget, opens_thinking=True).to_extra_args())
        runs = self.run(self.prompts(), [params] * len(self.problems))
        method = "budget forcing" + (" + loop guard" if guard else "") + (f" + grace {grace}" if grace else "")
        if maximum is None:
            series = f"{method}: forced Waits, no maximum" if guard else WAITS
            return [point(method, f"waits={waits}", runs, self.problems, None, series)]
        series = f"{method}: max, {waits} forced Wait{'s' * (waits > 1)} under it"
        bound = (0, maximum + grace)
        return [point(method, f"max={maximum}, waits={waits}", runs, self.problems, bound, series)]

    def stated(self, limit: int) -> list[Point]:
        """s1's token-conditional control: the budget is only stated in the prompt, greedy, no forcing."""
        prompts = self.prompts(f"Think for at most {limit} tokens.")
        runs = self.run(prompts, [self.params(0.0, 0)] * len(prompts))
        return [point("prompt-conditional", f"N={limit}", runs, self.problems, (0, limit))]

    def sampled(self, config: dict[str, Any], seed: int) -> list[Point]:
        """One seeded pool of samples per problem serves every rejection limit and every k (common random numbers)."""
        size = max(config["attempts"], *config["votes"])
        prompts = [p for p in self.prompts() for _ in range(size)]
        runs = self.run(prompts, [self.params(1.0, seed * 1_000_003 + i) for i in range(len(prompts))])
        pools = [runs[i : i + size] for i in range(0, len(runs), size)]
        capped = [pool[: config["attempts"]] for pool in pools]
        points = [rejection_point(n, capped, self.problems) for n in config["rejection"]]
        return points + [vote_point(k, pools, self.problems) for k in config["votes"]]


def plot(points: list[Point], path: Any) -> None:
    """Accuracy against mean thinking tokens, one line per method (or sweep), log x as in s1's figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for series in dict.fromkeys(p.series or p.method for p in points):
        ps = sorted((p for p in points if (p.series or p.method) == series), key=lambda p: p.thinking)
        ax.plot([p.thinking for p in ps], [p.accuracy for p in ps], marker="o", label=series)
    ax.set(xscale="log", xlabel="mean thinking tokens per problem", ylabel="accuracy", ylim=(-0.03, 1.03), title=TITLE)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


NOTES = """Control: share of runs whose thinking stays within the setting's stated bound [0, N] (budget forcing: its
maxima, plus the grace where one is set: the hard bound then; the Wait-only settings state no token bound and are
left out; majority voting states none). A rejection sampling miss (no sample of the capped attempts fits) counts as
out of bound and wrong, its thinking the shortest sample's. Scaling: s1's average slope over all pairs of points
sorted by thinking tokens, in accuracy fraction per 100 thinking tokens. Performance: best accuracy. Thinking tokens:
output tokens before `</think>` (the chat template opens the thinking); majority voting counts the total over its k
samples. Sampling: temperature 1.0, seeded; one pool of samples per problem serves every rejection limit and every k.
The loop guard and the grace are their own methods (beyond s1), beside plain budget forcing on the same problems."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, help="held-out problems (default 200, --quick 20)")
    parser.add_argument("--quick", action="store_true", help="20 problems and fewer settings (CI)")
    parser.add_argument("--out-name", help="bench/results/<name>.{json,md,png} (default scaling / scaling-quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled methods")
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    name = args.out_name or ("scaling-quick" if args.quick else "scaling")
    problems = held_out_problems(args.problems or (20 if args.quick else 200))
    started = time.monotonic()
    runner = Runner(load_llm(processor=True), problems)
    engine_s = time.monotonic() - started
    jobs = [(runner.forcing, (w, None)) for w in config["waits"]]
    jobs += [(runner.forcing, (w, m)) for w, maxima in config["maxima"].items() for m in maxima]
    jobs += [(runner.forcing, (w, None, True)) for w in config["guarded"]]
    grace = config["grace"]
    jobs += [(runner.forcing, (w, m, False, grace)) for w, maxima in config["maxima"].items() for m in maxima]
    jobs += [(runner.stated, (n,)) for n in config["stated"]] + [(runner.sampled, (config, args.seed))]
    points = [p for job, job_args in tqdm(jobs, desc="settings") for p in job(*job_args)]
    metrics = summarize(points)
    RESULTS.mkdir(exist_ok=True)
    plot(points, RESULTS / f"{name}.png")
    rows = [asdict(p) for p in points]
    tables = [markdown_table(metrics, METRIC_COLUMNS), markdown_table(rows, POINT_COLUMNS)]
    table = "\n\n".join([*tables, f"![accuracy against thinking tokens]({name}.png)"])
    timing = {"engine_start_s": round(engine_s, 1), "total_s": round(time.monotonic() - started, 1)}
    data = {"problems": len(problems), "config": config, "metrics": metrics, "points": rows, **timing}
    path = write_results(name, data, table, title=TITLE, notes=NOTES)
    print(table, f"\n{path} ({timing})", sep="\n")


if __name__ == "__main__":
    main()
