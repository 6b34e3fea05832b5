"""Stopping llama.cpp in the middle of a prompt, so a cancel is honoured within one graph node.

Sampling already stops within one token (a stopping criterion reads ``TaskState.cancelled``),
but reading a long prompt is one ``llama_decode`` per ``n_batch`` chunk, seconds each for a
large model on a small CPU. llama.cpp's abort callback closes that gap: its CPU backend asks
it after every node of the compute graph (on the thread that called ``llama_decode``); when it
answers true the current ubatch stops, ``llama_decode`` returns 2 (the ubatches finished
before stay in the KV cache) and ``Llama.eval`` raises ``RuntimeError``; later ``n_batch``
chunks never start.

The callback is Python (it takes the GIL once per graph node), so it is armed only while the
prompt is read and only for calls that can be cancelled (a ``TaskState`` was passed): the
first sampled token disarms it, and the token loop pays nothing. After an abort the
``Llama`` object's view of its context (``n_tokens``, cached prefix) is reset and the KV cache
cleared, so the next call evaluates its prompt from scratch.

Threads: a guard belongs to one engine call, under the engine's lock, on the llm lane.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import llama_cpp

from app.core.tasks import TaskState

_NO_CALLBACK = llama_cpp.ggml_abort_callback()  # a NULL function pointer: nothing installed


class PromptAbort:
    """The abort callback of one call: answers ``state.cancelled`` while armed."""

    def __init__(self, llm: llama_cpp.Llama, state: TaskState | None):
        self._llm = llm
        self._state = state
        self.checks = 0  # times llama.cpp asked whether to stop
        self.fired = False  # the callback answered "stop": llama_decode was aborted
        # The ctypes object must outlive its installation: llama.cpp only keeps the pointer.
        self._callback: Any = None
        if state is not None:
            self._callback = llama_cpp.ggml_abort_callback(self._should_abort)
        self._installed = False

    def _should_abort(self, _data: Any) -> bool:
        self.checks += 1
        if self._state is not None and self._state.cancelled:
            self.fired = True
            return True
        return False

    def arm(self) -> None:
        if self._callback is not None and not self._installed:
            llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, self._callback, None)
            self._installed = True

    def disarm(self) -> None:
        """Uninstall the callback (idempotent; call between decodes, on the calling thread)."""
        if self._installed:
            llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, _NO_CALLBACK, None)
            self._installed = False


@contextmanager
def prompt_abort(llm: llama_cpp.Llama, state: TaskState | None) -> Iterator[PromptAbort]:
    """Arm the abort callback for the block (none without ``state``); always disarm it, and
    after an abort forget the half-read prompt so the next call starts clean."""
    guard = PromptAbort(llm, state)
    guard.arm()
    try:
        yield guard
    finally:
        guard.disarm()
        if guard.fired:
            forget_context(llm)


def forget_context(llm: llama_cpp.Llama) -> None:
    """Drop the cached prompt: ``n_tokens`` back to 0 (no prefix reuse) and the KV cache
    emptied (cells only; the next decode overwrites the data)."""
    llm.reset()  # type: ignore[no-untyped-call]
    memory = llama_cpp.llama_get_memory(llm._ctx.ctx)
    if memory is not None:
        llama_cpp.llama_memory_clear(memory, False)

