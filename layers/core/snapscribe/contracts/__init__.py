"""Pydantic models of each seed's request and response, field names to the letter."""
