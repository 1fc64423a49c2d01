"""Pydantic models of each API contract's requests and responses, field names to the letter."""
