"""The engines a deployment offers: the operator's list (`SNAPSCRIBE_ENGINES`), never the caller's choice.

An entry is an engine id, optionally with its price: `local`, `textract=1000`, `gemini:gemini-2.5-flash`,
`bedrock:amazon.nova-lite-v1:0=1500`, `openai:qwen2.5-vl-7b`. The price is credits per 1,000 tokens for an
engine that counts tokens (1,000 by default: a credit a token, as the contracts' usage reads), and credits per
page for Textract (whose cost is per page). A contract's own fixed price (extract-image's credits, batch
extraction's per page) is the contract's: these prices apply where it charges the tokens used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from snapscribe.errors import UnknownEngine

FAMILIES = ("local", "textract", "gemini", "bedrock", "openai")
FAMILIES_WITH_MODEL = ("gemini", "bedrock", "openai")
# The local engine's names: its own, RapidOCR's, and the one the batch-extraction contract's example uses.
LOCAL_ALIASES = frozenset({"local", "rapidocr", "danlin"})
# The structured-extraction contract's model id: the deployment's default engine.
DEFAULT_ALIASES = frozenset({"u1-ocr-extract"})
DEFAULT_TOKEN_PRICE = 1000  # credits per 1,000 tokens
DEFAULT_PAGE_PRICE = 1000  # Textract: credits per page, about what the local engine counts for a dense page
MAX_ENGINES = 32  # engine objects are bounded: one per entry, and the list itself is bounded


@dataclass(frozen=True)
class EngineChoice:
    """One engine the deployment offers, by its canonical id."""

    id: str
    family: str
    model: str | None
    price: int

    @property
    def per_page(self) -> bool:
        return self.family == "textract"

    def credits(self, tokens: int, pages: int) -> int:
        """What a call that counted `tokens` over `pages` pages costs."""
        if self.per_page:
            return self.price * max(1, pages)
        return math.ceil(tokens * self.price / 1000)


def parse_entry(entry: str) -> EngineChoice:
    """An entry of the operator's list; ValueError says what is wrong with it."""
    text, _, price_text = entry.strip().partition("=")
    family, colon, model = text.strip().partition(":")
    if family in LOCAL_ALIASES and not colon:
        family, model = "local", ""
    if family not in FAMILIES:
        raise ValueError(f"unknown engine {text!r}: an entry starts with one of {', '.join(FAMILIES)}")
    if family in FAMILIES_WITH_MODEL and not model.strip():
        raise ValueError(f"engine {text!r} names no model: write {family}:<model id>")
    if family not in FAMILIES_WITH_MODEL and colon:
        raise ValueError(f"engine {family!r} takes no model")
    price = DEFAULT_PAGE_PRICE if family == "textract" else DEFAULT_TOKEN_PRICE
    if price_text.strip():
        if not price_text.strip().isdigit():
            raise ValueError(f"the price of {text!r} must be a whole number of credits")
        price = int(price_text.strip())
    model = model.strip()
    return EngineChoice(id=f"{family}:{model}" if model else family, family=family, model=model or None, price=price)


class EngineCatalog:
    """The allowed engines: the operator's list, plus the defaults (always offered) and the local engine."""

    def __init__(self, listed: str, defaults: Iterable[str], *, gemini_model: str) -> None:
        self.gemini_model = gemini_model
        choices: dict[str, EngineChoice] = {}
        for entry in [*listed.split(","), *defaults, "local"]:
            if not entry.strip():
                continue
            choice = parse_entry(self._canonical(entry))
            choices.setdefault(choice.id, choice)  # the list's own price wins over a default's
        if len(choices) > MAX_ENGINES:
            raise ValueError(f"at most {MAX_ENGINES} engines may be listed")
        self.choices = choices

    def _canonical(self, text: str) -> str:
        """Today's short names: `gemini` is the configured Gemini model; `gemini-2.5-flash` is `gemini:...`."""
        name, equals, price = text.strip().partition("=")
        name = name.strip()
        if name == "gemini":
            name = f"gemini:{self.gemini_model}"
        elif name.startswith("gemini-"):
            name = f"gemini:{name}"
        return f"{name}{equals}{price}"

    def allowed(self) -> list[str]:
        return sorted(self.choices)

    def resolve(self, requested: str) -> EngineChoice:
        """The choice a request's engine id names, or UnknownEngine listing what this deployment offers."""
        name = requested.strip()
        key = "local" if name in LOCAL_ALIASES else self._canonical(name).partition("=")[0]
        if "=" not in name and key in self.choices:
            return self.choices[key]
        shown = name if len(name) <= 100 else name[:100] + "..."
        raise UnknownEngine(f"Unknown engine: {shown!r}. This deployment offers: {', '.join(self.allowed())}")
