"""``python -m bench.families NAME --out DIR``: build one family's test model from the command line.

For a person starting a server on a real vocabulary by hand (``thinkserve --model DIR``) or looking at
what the tests load. Prints the directory and the ids a budget works with, so a server log can be
checked against them at a glance.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from bench.families.build import build_model, delimiters
from bench.families.catalog import FAMILIES, family
from bench.families.circuit import MAX_PHASE_TOKENS, PHASE_TOKENS
from bench.families.hf_tokenizer import build_tokenizer


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.families", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(FAMILIES))
    parser.add_argument("--out", type=Path, required=True, help="the model directory (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="draws the random weights")
    parser.add_argument(
        "--phase-tokens", type=int, default=PHASE_TOKENS,
        help=f"tokens of thinking, then of answer, before the model ends each (1-{MAX_PHASE_TOKENS})",
    )  # fmt: skip
    return parser.parse_args(argv)


def summary(name: str, directory: Path, seconds: float) -> str:
    """One line per fact a budget needs: where, delimiters, their ids, EOS, the template switch."""
    known, tokenizer = family(name), build_tokenizer(name)
    ids = delimiters(known, tokenizer)
    return "\n".join(
        [
            f"{name}: {directory} ({seconds:.1f}s)",
            f"  thinking {known.think_start!r} ... {known.think_end!r}",
            f"  end token {known.end_token!r} = {ids.end_token}",
            f"  EOS {known.eos_token!r} = {ids.eos}; vocab {known.vocab_size}, tokenizer {len(tokenizer)}",
            f"  prompt thinking: {known.prompt_thinking}; switch: {known.switch}; parser: {known.reasoning_parser}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    started = time.perf_counter()
    directory = build_model(args.name, args.out, args.seed, phase_tokens=args.phase_tokens)
    print(summary(args.name, directory, time.perf_counter() - started))


if __name__ == "__main__":
    main()
