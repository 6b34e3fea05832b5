"""The assistant: conversations that persist, and grounded answers with citations."""
