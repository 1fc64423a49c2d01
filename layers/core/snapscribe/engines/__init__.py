"""Extraction engines behind one interface: `gemini` (google-genai) and `local` (RapidOCR, offline)."""
