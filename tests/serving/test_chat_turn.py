"""A continued message's thinking read whole (the prompt's tail is not enough), and vLLM's role and echo rules."""

from __future__ import annotations

from server.protocol.chat import ChatCompletionRequest
from server.serving.chat_turn import chat_reply, message_thinking
from server.thinking.formats import PromptThinking, prompt_thinking

START, END, WORD = (1,), 2, [7] * 12  # <think>, </think>, and a dozen tokens of thinking text


def test_a_start_far_back_opened_the_thinking_the_tail_cannot_see() -> None:
    message = [5, *START, *WORD]
    assert prompt_thinking(message, START, END) is PromptThinking.NONE
    assert message_thinking(message, START, END) is PromptThinking.OPEN
    assert message_thinking([*START, *WORD, END, *WORD], START, END) is PromptThinking.CLOSED
    assert message_thinking([*WORD, END, *WORD], START, END) is PromptThinking.CLOSED  # a closing alone
    assert message_thinking([*START, END, *START, *WORD], START, END) is PromptThinking.OPEN  # the last start rules
    assert message_thinking(WORD, START, END) is PromptThinking.NONE
    assert message_thinking(WORD, (), END) is PromptThinking.NONE


def test_an_end_that_begins_every_turn_closes_nothing_alone() -> None:
    start, end = (3, 4), 3  # s1: <|im_start|>think opens, <|im_start|> closes
    assert message_thinking([*start, *WORD], start, end) is PromptThinking.OPEN
    assert message_thinking([*start, *WORD, end, 9, *WORD], start, end) is PromptThinking.CLOSED
    assert message_thinking([end, 9, *WORD], start, end) is PromptThinking.NONE


def test_the_reply_takes_the_final_messages_role_without_a_generation_prompt() -> None:
    def reply(**fields: object) -> tuple[str, str]:
        messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "The sum"}]
        made = chat_reply(ChatCompletionRequest.model_validate({"messages": messages, **fields}))
        return made.role, made.echo

    assert reply() == ("assistant", "")
    assert reply(echo=True) == ("assistant", "The sum")
    assert reply(echo=True, add_generation_prompt=False, continue_final_message=True) == ("assistant", "The sum")
    user = chat_reply(ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": "Hi"}],
                                                            "echo": True, "add_generation_prompt": False}))  # fmt: skip
    assert (user.role, user.echo, user.include_reasoning) == ("user", "Hi", True)
