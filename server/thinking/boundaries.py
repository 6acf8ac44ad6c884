"""The tokens that end a line or a sentence: where a graceful maximum lets the thinking stop. Pure: no torch, no vLLM.

A token is a **boundary** when its text, decoded alone (special tokens kept), ends a line or a sentence:

- it holds a newline followed by nothing but spaces or tabs (``"\\n"``, ``".\\n"``, ``"\\n\\n"``, ``"\\n    "``), or
- its last character, past any trailing spaces, tabs and closing quotes or brackets, is sentence-final
  punctuation: ``. ! ?``, the ellipsis, or the ideographic full stop and the full-width ``!`` and ``?``.

The set is resolved once per tokenizer (one pass over the vocabulary) and is the server's: the front end
and the engine's budget processor each resolve it from the same tokenizer files. A token cannot see
what comes after it, so a ``.`` inside a number (``3`` ``.`` ``14``) or an abbreviation counts too: the
grace then ends there, at a token the model chose, which is still no mid-word cut.
"""

from __future__ import annotations

from typing import Any

SENTENCE_ENDS = frozenset(".!?\u2026\u3002\uff01\uff1f")  # ... and the ellipsis, 。, full-width ! and ?
TRAILING = " \t\"'\u201d\u2019\u00bb)]"  # what may follow it in the same token: spaces, closing quotes, brackets


def ends_a_line_or_sentence(text: str) -> bool:
    newline = text.rfind("\n")
    if newline >= 0 and not text[newline + 1 :].strip(" \t"):
        return True
    stripped = text.rstrip(TRAILING)
    return bool(stripped) and stripped[-1] in SENTENCE_ENDS


def boundary_ids(tokenizer: Any) -> frozenset[int]:
    """Every id of ``tokenizer`` (a Hugging Face tokenizer) whose text ends a line or a sentence."""
    ids = [[i] for i in range(len(tokenizer))]
    texts = tokenizer.batch_decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return frozenset(i for i, text in enumerate(texts) if ends_a_line_or_sentence(text))
