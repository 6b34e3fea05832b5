"""Turn chat messages into the prompt a model was trained on.

The model's own Jinja chat template (GGUF ``tokenizer.chat_template``) is used when present,
rendered exactly as llama-cpp-python's default chat handler does, so the app and a direct
``Llama.create_chat_completion`` see the same tokens. A model without a template gets a plain
transcript (``System:``/``User:``/``Assistant:``) and says so through ``ChatFormat.name``.
Pure functions: any thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

Message = Mapping[str, str]

FALLBACK_NAME = "fallback:plain-transcript"
_FALLBACK_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}


@dataclass
class ChatFormat:
    """How to render messages for one model: ``name`` is "gguf-template" or the fallback."""

    name: str
    template: str | None
    bos_token: str
    eos_token: str
    stop: list[str] = field(default_factory=list)
    _formatter: Jinja2ChatFormatter | None = field(default=None, repr=False, compare=False)

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text, ending where the assistant's answer starts."""
        msgs: Any = [{"role": m["role"], "content": m["content"]} for m in messages]
        if self.template is None:
            return _render_plain(msgs)
        if self._formatter is None:
            self._formatter = Jinja2ChatFormatter(
                template=self.template, eos_token=self.eos_token, bos_token=self.bos_token
            )
        formatter = self._formatter
        try:
            return formatter(messages=msgs).prompt
        except Exception:
            # Some templates (Gemma's) refuse a system role: fold it into the first user turn.
            merged: Any = _fold_system(msgs)
            if merged == msgs:
                raise
            return formatter(messages=merged).prompt


def chat_format_for(template: str | None, bos_token: str, eos_token: str) -> ChatFormat:
    if template:
        return ChatFormat("gguf-template", template, bos_token, eos_token, [eos_token])
    stops = ["\nUser:", "\nSystem:"] + ([eos_token] if eos_token else [])
    return ChatFormat(FALLBACK_NAME, None, bos_token, eos_token, stops)


def _render_plain(messages: list[dict[str, str]]) -> str:
    parts = [f"{_FALLBACK_ROLES.get(m['role'], m['role'].title())}: {m['content']}"
             for m in messages]
    parts.append("Assistant:")
    return "\n\n".join(parts)


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return messages
    preface = "\n\n".join(system)
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{preface}\n\n{rest[0]['content']}"
    else:
        rest.insert(0, {"role": "user", "content": preface})
    return rest
