"""The tiny model's tokenizer: byte-level, no merges, plus a few whole-word tokens.

Every byte is one token, so any text encodes and the model reads digits one by one.
``<think>``, ``</think>``, ``Wait``, ``<tool_call>`` and ``</tool_call>`` are single
added tokens (not special: they stay in decoded text), so ``Wait`` has one id whether
alone or in context, and vLLM's ``hermes`` tool parser finds its delimiters in the vocab.
The chat template ends the generation prompt inside the thinking (``<think>\\n``),
as DeepSeek-R1 and Qwen3 templates do, and renders tools, tool calls and tool results
the Qwen3 (hermes) way, compactly.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from tokenizers.pre_tokenizers import ByteLevel
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Appended in this order: the ids of earlier tokens never move.
WORD_TOKENS = ("<think>", "</think>", "Wait", "<tool_call>", "</tool_call>")
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"

# Tools go into the system turn, one JSON object a line. Earlier assistant turns keep
# only their answer (as Qwen3's template does), then their tool calls; consecutive tool
# results share one user turn. Every tag trims whitespace: only the quoted strings print.
CHAT_TEMPLATE = """
{%- if tools -%}
    {{- '<|im_start|>system\\n' -}}
    {%- if messages and messages[0]['role'] == 'system' -%}
        {{- messages[0]['content'] + '\\n\\n' -}}
    {%- endif -%}
    {{- '# Tools\\n<tools>\\n' -}}
    {%- for tool in tools -%}
        {%- set function = tool['function'] if tool['function'] is defined else tool -%}
        {%- set parameters = (function['parameters'] or {})['properties'] or {} -%}
        {{- function['name'] + '(' + parameters | join(', ') + ')\\n' -}}
    {%- endfor -%}
    {{- '</tools><|im_end|>\\n' -}}
{%- elif messages and messages[0]['role'] == 'system' -%}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' -}}
{%- endif -%}
{%- for message in messages -%}
    {%- set content = message['content'] or '' -%}
    {%- if message['role'] == 'system' and loop.first -%}
        {#- rendered above -#}
    {%- elif message['role'] == 'assistant' -%}
        {%- if '</think>' in content -%}
            {%- set content = content.split('</think>')[-1].lstrip('\\n') -%}
        {%- endif -%}
        {{- '<|im_start|>assistant\\n' + content -}}
        {%- for call in message['tool_calls'] or [] -%}
            {%- set function = call['function'] if call['function'] is defined else call -%}
            {%- set arguments = function['arguments'] -%}
            {{- '<tool_call>{"name": ' + function['name'] | tojson + ', "arguments": ' -}}
            {{- arguments if arguments is string else arguments | tojson -}}
            {{- '}</tool_call>' -}}
        {%- endfor -%}
        {{- '<|im_end|>\\n' -}}
    {%- elif message['role'] == 'tool' -%}
        {%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' -%}
            {{- '<|im_start|>user\\n' -}}
        {%- else -%}
            {{- '\\n' -}}
        {%- endif -%}
        {{- '<tool_response>\\n' + content + '\\n</tool_response>' -}}
        {%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' -%}
            {{- '<|im_end|>\\n' -}}
        {%- endif -%}
    {%- else -%}
        {{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\\n<think>\\n' -}}
{%- endif -%}
""".strip()


def build_tokenizer() -> PreTrainedTokenizerFast:
    byte_vocab = {char: i for i, char in enumerate(sorted(ByteLevel.alphabet()))}
    core = Tokenizer(models.BPE(vocab=byte_vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=list(SPECIAL_TOKENS),
    )
    tokenizer.add_tokens(list(WORD_TOKENS))
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tokenizer(directory: Path) -> PreTrainedTokenizerFast:
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(directory)
    return tokenizer
