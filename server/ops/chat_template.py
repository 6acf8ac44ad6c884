"""``--chat-template``: a file or the template inline, read as ``vllm serve`` reads it, and parsed at startup.

vLLM's ``load_chat_template`` rules: a path that opens is read; a value that does not open is the template itself
when it holds Jinja's characters (``{``, ``}`` or a newline), else a path that failed. (vLLM also looks a bare
name up among its own bundled templates; thinkserve has none of those: give the file.)
"""

from __future__ import annotations

from functools import lru_cache

JINJA_CHARS = "{}\n"


class ChatTemplateError(ValueError):
    """The template cannot be read or parsed: startup fails naming ``--chat-template``."""


@lru_cache(maxsize=8)
def load_chat_template(value: str | None) -> str | None:
    """The template's text (None: the tokenizer's own), parsed as transformers will render it."""
    if value is None:
        return None
    text = _read(value)
    _parse(text)
    return text


def _read(value: str) -> str:
    try:
        with open(value, encoding="utf-8") as file:
            return file.read()
    except OSError as exc:
        if any(char in value for char in JINJA_CHARS):
            return value  # the template itself, given inline
        raise ChatTemplateError(f"{value!r} looks like a file path, but it cannot be opened: {exc}") from exc


def _parse(text: str) -> None:
    """Compiled in transformers' own Jinja environment (its extensions, ``{% generation %}`` and loop controls):
    a template that does not parse fails here, not at the first request."""
    from jinja2 import TemplateError
    from transformers.utils.chat_template_utils import _compile_jinja_template

    try:
        _compile_jinja_template(text)
    except TemplateError as exc:
        raise ChatTemplateError(f"the template does not parse: {exc}") from exc
