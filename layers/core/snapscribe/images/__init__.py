"""Reading, checking and preparing images: formats from the bytes, EXIF orientation, size guards."""
