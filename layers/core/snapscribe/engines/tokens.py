"""Token counts for engines that have no tokenizer of their own (the local engine)."""

from __future__ import annotations


def estimate_tokens(text: str) -> int:
    """The documented, deterministic token count for engines that have no tokenizer: 4 characters
    (UTF-8 bytes for non-Latin scripts count more) make one token, rounded up, at least 1 for text."""
    size = len(text.encode("utf-8"))
    return (size + 3) // 4
