"""vLLM's request extensions that `vllm serve` users send, on the fake engine: each reaches the engine request, or
is a 400 naming it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeEngine

CHAT = {"messages": [{"role": "user", "content": "12+34"}], "max_tokens": 30}


def test_stop_token_ids_reach_the_engine_and_are_checked(client: TestClient, engine: FakeEngine) -> None:
    response = client.post("/v1/completions", json={"prompt": "12+34", "max_tokens": 5, "stop_token_ids": [7, 9]})
    assert response.status_code == 200 and engine.requests[-1][1].stop_token_ids == (7, 9)
    response = client.post("/v1/completions", json={"prompt": "12+34", "stop_token_ids": [10**6]})
    assert response.status_code == 400 and response.json()["error"]["param"] == "stop_token_ids"


def test_completions_return_the_token_ids_whole_and_streamed(client: TestClient, engine: FakeEngine) -> None:
    body = {"prompt": "12+34", "max_tokens": 30, "return_token_ids": True}
    choice = client.post("/v1/completions", json=body).json()["choices"][0]
    prompt, script = engine.requests[-1][0], engine.tokenizer.encode(engine.script, add_special_tokens=False)
    assert choice["prompt_token_ids"] == prompt and choice["token_ids"] == script[:30]
    chunks = streamed(client, "/v1/completions", {**body, "stream": True})
    assert [c["choices"][0].get("prompt_token_ids") is not None for c in chunks].count(True) == 1
    assert [t for c in chunks for t in c["choices"][0]["token_ids"]] == script[:30]
    plain = client.post("/v1/completions", json={"prompt": "12+34", "max_tokens": 3}).json()["choices"][0]
    assert "token_ids" not in plain and "prompt_token_ids" not in plain  # only when asked


def test_chat_returns_every_token_id_the_split_text_came_from(client: TestClient, engine: FakeEngine) -> None:
    body = {**CHAT, "return_token_ids": True, "max_thinking_tokens": 6}
    whole = client.post("/v1/chat/completions", json=body).json()
    assert whole["prompt_token_ids"] == engine.requests[-1][0]
    ids = whole["choices"][0]["token_ids"]
    assert len(ids) == whole["usage"]["completion_tokens"]
    chunks = streamed(client, "/v1/chat/completions", {**body, "stream": True})
    assert chunks[0]["prompt_token_ids"] == engine.requests[-1][0]
    assert [t for c in chunks if c["choices"] for t in c["choices"][0].get("token_ids") or []] == ids


def streamed(client: TestClient, path: str, body: dict) -> list[dict]:
    with client.stream("POST", path, json=body) as response:
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]


# The extensions the engine does (issue #18, A1): each reaches the engine request, or is a 400 naming it.

PROMPT = {"prompt": "12+34", "max_tokens": 5}


def test_each_engine_extension_reaches_the_engine_request(client: TestClient, engine: FakeEngine) -> None:
    fields = {
        "bad_words": ["7", "xy"], "allowed_token_ids": [52, 54, 256], "skip_special_tokens": False,
        "spaces_between_special_tokens": False, "include_stop_str_in_output": True, "cache_salt": "s4lt",
        "vllm_xargs": {"mine": 1, "list": ["a", 2.5]}, "priority": 0,
    }  # fmt: skip
    for path, body in (("/v1/completions", PROMPT), ("/v1/chat/completions", CHAT)):
        assert client.post(path, json={**body, **fields}).status_code == 200
        request = engine.engine_requests[-1]
        sampling = request.sampling
        assert (sampling.bad_words, sampling.allowed_token_ids) == (("7", "xy"), (52, 54, 256))
        assert (sampling.skip_special_tokens, sampling.spaces_between_special_tokens) == (False, False)
        assert sampling.include_stop_str_in_output and sampling.extra_args == {"mine": 1, "list": ["a", 2.5]}
        assert (request.priority, request.cache_salt) == (0, "s4lt")
    client.post("/v1/completions", json=PROMPT)
    defaults = engine.engine_requests[-1]
    assert (defaults.sampling.bad_words, defaults.sampling.allowed_token_ids, defaults.cache_salt) == ((), None, None)
    assert defaults.sampling.skip_special_tokens and not defaults.sampling.include_stop_str_in_output


def test_vllm_xargs_go_beside_the_budget_and_may_not_take_its_key(client: TestClient, engine: FakeEngine) -> None:
    body = {**CHAT, "max_thinking_tokens": 6, "vllm_xargs": {"mine": "x"}}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    assert set(engine.requests[-1][1].extra_args or {}) == {"mine", "thinking_budget"}
    for xargs, param in (({"thinking_budget": 1}, "vllm_xargs.thinking_budget"), ({"big": 2**64}, "vllm_xargs.big")):
        response = client.post("/v1/chat/completions", json={**CHAT, "vllm_xargs": xargs})
        assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_priority_needs_priority_scheduling(client: TestClient, engine: FakeEngine) -> None:
    response = client.post("/v1/completions", json={**PROMPT, "priority": -3})
    assert response.status_code == 400 and response.json()["error"]["param"] == "priority"
    assert "--scheduling-policy priority" in response.json()["error"]["message"]
    engine.scheduling_policy = "priority"
    assert client.post("/v1/completions", json={**PROMPT, "priority": -3}).status_code == 200
    assert engine.engine_requests[-1].priority == -3


@pytest.mark.parametrize("salt", ["", "a/b", "a@b", "x" * 129, "nul\u0000"])
def test_a_cache_salt_is_checked_as_vllm_checks_it(client: TestClient, salt: str) -> None:
    response = client.post("/v1/completions", json={**PROMPT, "cache_salt": salt})
    assert response.status_code == 400 and response.json()["error"]["param"] == "cache_salt"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"allowed_token_ids": []}, "allowed_token_ids"),
        ({"allowed_token_ids": [10**6]}, "allowed_token_ids"),
        ({"bad_words": [""]}, "bad_words"),
        ({"bad_words": ["  "]}, "bad_words"),  # no token once its leading space is stripped, as vLLM strips it
        ({"truncate_prompt_tokens": 2000}, "truncate_prompt_tokens"),  # beyond the context (1024)
        ({"truncate_prompt_tokens": 0}, "truncate_prompt_tokens"),
        ({"truncation_side": "middle"}, "truncation_side"),
    ],
)
def test_bad_values_are_400s_naming_the_field(client: TestClient, fields: dict, param: str) -> None:
    response = client.post("/v1/completions", json={**PROMPT, **fields})
    assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_masks_that_would_hide_a_forced_token_are_refused_with_a_budget(client: TestClient, engine: FakeEngine) -> None:
    digits = engine.tokenizer.encode("0123456789", add_special_tokens=False)
    maximum = {**CHAT, "max_thinking_tokens": 4}
    response = client.post("/v1/chat/completions", json={**maximum, "allowed_token_ids": digits})
    assert response.status_code == 400 and response.json()["error"]["param"] == "allowed_token_ids"
    closing = engine.tokenizer.encode("</think>\n\nFinal Answer:", add_special_tokens=False)
    assert (
        client.post("/v1/chat/completions", json={**maximum, "allowed_token_ids": digits + closing}).status_code == 200
    )
    assert client.post("/v1/chat/completions", json={**CHAT, "allowed_token_ids": digits}).status_code == 200
    for words, status in ((["A"], 400), (["xA"], 200), (["7"], 200)):  # "A" of the forced "Final Answer:"
        response = client.post("/v1/chat/completions", json={**maximum, "bad_words": words})
        assert response.status_code == status, words
    waits = {**CHAT, "min_thinking_waits": 1}
    response = client.post("/v1/chat/completions", json={**waits, "bad_words": ["Wait"]})
    assert response.status_code == 400 and response.json()["error"]["param"] == "bad_words"
    assert client.post("/v1/chat/completions", json={**CHAT, "bad_words": ["Wait"]}).status_code == 200


def test_prompts_are_truncated_before_the_length_checks(client: TestClient, engine: FakeEngine) -> None:
    full = engine.tokenizer.encode("What is 12 + 34?", add_special_tokens=True)
    body = {"prompt": "What is 12 + 34?", "max_tokens": 2, "truncate_prompt_tokens": 5}
    usage = client.post("/v1/completions", json=body).json()["usage"]
    assert engine.requests[-1][0] == full[-5:] and usage["prompt_tokens"] == 5
    client.post("/v1/completions", json={**body, "truncation_side": "right"})
    assert engine.requests[-1][0] == full[:5]
    long = {"prompt": "1+1=2. " * 200, "max_tokens": 1}  # 1400 tokens: beyond the 1024-token context
    assert client.post("/v1/completions", json=long).status_code == 400
    assert client.post("/v1/completions", json={**long, "truncate_prompt_tokens": -1}).status_code == 200
    assert len(engine.requests[-1][0]) == engine.max_model_len - 1
    chat = client.post("/v1/chat/completions", json={**CHAT, "truncate_prompt_tokens": 4}).json()
    assert chat["usage"]["prompt_tokens"] == 4  # the last four: the generation prompt's tail


@pytest.mark.parametrize("stream", [False, True])
def test_an_included_stop_string_stays_in_the_answer(client: TestClient, stream: bool) -> None:
    body = {**CHAT, "max_tokens": 200, "stop": ["6"], "stream": stream}  # the answer is "46"; the 6s before, thinking
    for include, content in ((False, "4"), (True, "46")):
        fields = {**body, "include_stop_str_in_output": include}
        if stream:
            chunks = streamed(client, "/v1/chat/completions", fields)
            got = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        else:
            got = client.post("/v1/chat/completions", json=fields).json()["choices"][0]["message"]["content"]
        assert got == content


def test_stop_strings_the_engine_matches_carry_the_flag(client: TestClient, engine: FakeEngine) -> None:
    body = {**PROMPT, "stop": ["x"], "stop_in_thinking": True, "include_stop_str_in_output": True}
    client.post("/v1/completions", json=body)  # no budget, the thinking too: the engine matches them
    sampling = engine.requests[-1][1]
    assert sampling.stop == ("x",) and sampling.include_stop_str_in_output


ASKING = {
    "use_beam_search": True, "length_penalty": 0.5, "watermarking": True, "documents": [{"title": "t", "text": "x"}],
    "media_io_kwargs": {"video": {"num_frames": 4}}, "mm_processor_kwargs": {"fps": 2}, "prompt_embeds": "AAAA",
    "request_id": "mine", "logprob_token_ids": [5], "return_token_offsets": True, "return_prompt_text": True,
    "routed_experts_prompt_start": 3, "kv_transfer_params": {}, "ec_transfer_params": {},
    "repetition_detection": {"max_pattern_size": 4}, "stream_interval": 4,
}  # fmt: skip
ASKING_NOTHING = {"use_beam_search": False, "length_penalty": 1.0, "documents": [], "request_id": None,
                  "routed_experts_prompt_start": 0, "session_id": "s1", "mm_payload": "none"}  # fmt: skip


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
@pytest.mark.parametrize("name", sorted(ASKING))
def test_vllms_fields_for_what_is_not_offered_are_400s_naming_them(client: TestClient, route: str, name: str) -> None:
    body = CHAT if route.endswith("chat/completions") else {"prompt": "12+34", "max_tokens": 5}
    response = client.post(route, json={**body, name: ASKING[name]})
    assert response.status_code == 400 and response.json()["error"]["param"] == name


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
def test_vllms_fields_that_ask_for_nothing_are_accepted(client: TestClient, route: str) -> None:
    body = CHAT if route.endswith("chat/completions") else {"prompt": "12+34", "max_tokens": 5}
    assert client.post(route, json={**body, **ASKING_NOTHING}).status_code == 200


def test_add_special_tokens_is_the_tokenizers_on_top_of_the_prompt() -> None:
    from server.serving.prompts import encode_prompts

    class Tokenizer:
        def __len__(self) -> int:
            return 100

        def encode(self, text: str, add_special_tokens: bool) -> list[int]:
            return [1, *map(ord, text)] if add_special_tokens else list(map(ord, text))

    assert encode_prompts(Tokenizer(), "ab") == [[1, 97, 98]]  # vLLM's default for text prompts
    assert encode_prompts(Tokenizer(), "ab", add_special_tokens=False) == [[97, 98]]


def test_add_special_tokens_reaches_the_chat_render(client: TestClient, engine: FakeEngine) -> None:
    plain = client.post("/v1/chat/completions", json=CHAT)
    assert plain.status_code == 200
    without = engine.requests[-1][0]
    assert client.post("/v1/chat/completions", json={**CHAT, "add_special_tokens": True}).status_code == 200
    expected = engine.tokenizer.encode(engine.tokenizer.decode(without), add_special_tokens=True)
    assert engine.requests[-1][0] == expected
