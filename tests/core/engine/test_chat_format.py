"""Prompt rendering: the GGUF template, its system-role quirk, and the stated fallback."""

from __future__ import annotations

from app.core.engine.chat_format import FALLBACK_NAME, chat_format_for

GEMMA_LIKE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)
MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def test_template_refusing_system_gets_it_folded_into_the_first_user_turn() -> None:
    fmt = chat_format_for(GEMMA_LIKE, bos_token="<s>", eos_token="</s>")
    assert fmt.name == "gguf-template" and fmt.stop == ["</s>"]
    assert fmt.render(MSGS) == "<user>Be brief.\n\nHi</user><assistant>"


def test_fallback_transcript_is_named_and_stops_at_the_next_turn() -> None:
    fmt = chat_format_for(None, bos_token="<s>", eos_token="</s>")
    assert fmt.name == FALLBACK_NAME
    assert fmt.render(MSGS) == "System: Be brief.\n\nUser: Hi\n\nAssistant:"
    assert "\nUser:" in fmt.stop and "</s>" in fmt.stop
