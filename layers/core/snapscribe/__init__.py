"""snapscribe: images in, text and structured data out. The shared package behind every handler."""
