"""The families' chat templates (Jinja), reduced to what a thinking budget meets: system, user, assistant.

Neither package ships a template, and the real ones are long mostly for tools. These keep exactly the
parts that decide where the thinking starts, so a server test sees the real prompt tails:

- ``qwen3`` (2504 hybrid): the prompt ends ``<|im_start|>assistant\\n`` and the model writes ``<think>``;
  ``enable_thinking=False`` appends an empty, closed ``<think>\\n\\n</think>\\n\\n``.
- ``qwen3.5``: the prompt opens the thinking, ``<|im_start|>assistant\\n<think>\\n``; off as for Qwen3.
- ``deepseek-v4``: ``<|begin of sentence|>{system}<|User|>…<|Assistant|>`` (full-width bars, see
  ``deepseek_token``) then ``<think>`` (no newline), or ``</think>`` with ``thinking`` (or
  ``enable_thinking``) false; thinking is on when neither is given, as vLLM's DeepSeek V4 tokenizer
  decides. Earlier answers read ``<|Assistant|></think>{answer}<|end of sentence|>``, as vLLM's V4
  encoder and V3.1's template render them.
- ``s1``: Qwen2.5's ChatML with its default system prompt, and a prompt ending ``<|im_start|>think``
  (s1's own evaluation appends it; here the template does, so the server sees the thinking open).

Earlier assistant turns keep only their answer, the text after the end of thinking with leading
newlines stripped, as the real templates drop history thinking. Left out: tools, ``reasoning_content``
fields, DeepSeek's ``reasoning_effort`` preambles, and continuing a final assistant message with its
thinking (the real Qwen3 and DeepSeek V4 templates keep the thinking of turns after the last user turn).
"""

from __future__ import annotations

from bench.families.vocabularies import DEEPSEEK_ASSISTANT, DEEPSEEK_BOS, DEEPSEEK_EOS, DEEPSEEK_USER

QWEN2_5_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def _chatml_turns(end_of_thinking: str) -> str:
    """``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message; assistant turns lose their thinking."""
    return (
        "{%- for message in messages %}\n"
        "    {%- set content = message['content'] if message['content'] is string else '' %}\n"
        f"    {{%- if message['role'] == 'assistant' and '{end_of_thinking}' in content %}}\n"
        f"        {{%- set content = content.split('{end_of_thinking}')[-1].lstrip('\\n') %}}\n"
        "    {%- endif %}\n"
        "    {{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}\n"
        "{%- endfor %}\n"
    )


def _qwen_generation_prompt(opened: str) -> str:
    """Qwen's generation prompt: ``opened`` after ``assistant\\n`` by default, a closed thinking when off."""
    return (
        "{%- if add_generation_prompt %}\n"
        "    {{- '<|im_start|>assistant\\n' }}\n"
        "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
        "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
        f"    {{%- else %}}{{{{- '{opened}' }}}}\n"
        "    {%- endif %}\n"
        "{%- endif %}\n"
    )


QWEN3_TEMPLATE = _chatml_turns("</think>") + _qwen_generation_prompt("")
QWEN3_5_TEMPLATE = _chatml_turns("</think>") + _qwen_generation_prompt("<think>\\n")

S1_TEMPLATE = (
    "{%- if not messages or messages[0]['role'] != 'system' %}\n"
    f"    {{{{- '<|im_start|>system\\n{QWEN2_5_DEFAULT_SYSTEM}<|im_end|>\\n' }}}}\n"
    "{%- endif %}\n"
    + _chatml_turns("<|im_start|>answer")
    + "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<|im_start|>think' }}{%- endif %}\n"
)

DEEPSEEK_V4_TEMPLATE = (
    "{%- set ns = namespace(thinking=true) %}\n"
    "{%- if thinking is defined or enable_thinking is defined %}\n"
    "    {%- set ns.thinking = (thinking is defined and thinking)"
    " or (enable_thinking is defined and enable_thinking) %}\n"
    "{%- endif %}\n"
    f"{{{{- '{DEEPSEEK_BOS}' }}}}\n"
    "{%- for message in messages %}\n"
    "    {%- set content = message['content'] if message['content'] is string else '' %}\n"
    "    {%- if message['role'] == 'system' %}{{- content }}\n"
    "    {%- elif message['role'] == 'user' %}\n"
    f"        {{{{- '{DEEPSEEK_USER}' + content }}}}\n"
    "        {%- if not loop.last and messages[loop.index0 + 1]['role'] == 'assistant' %}"
    f"{{{{- '{DEEPSEEK_ASSISTANT}</think>' }}}}{{%- endif %}}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {%- if '</think>' in content %}{%- set content = content.split('</think>')[-1] %}{%- endif %}\n"
    f"        {{{{- content + '{DEEPSEEK_EOS}' }}}}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    f"    {{{{- '{DEEPSEEK_ASSISTANT}' + ('<think>' if ns.thinking else '</think>') }}}}\n"
    "{%- endif %}\n"
)

TEMPLATES: dict[str, str] = {
    "qwen3": QWEN3_TEMPLATE,
    "qwen3.5": QWEN3_5_TEMPLATE,
    "deepseek-v4": DEEPSEEK_V4_TEMPLATE,
    "s1": S1_TEMPLATE,
}
