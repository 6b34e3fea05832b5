"""Chat: the conversation list, the chat view with streamed answers, and the sources panel."""
