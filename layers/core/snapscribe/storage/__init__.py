"""Where bytes live while a request works on them: per-request temporary files, and S3."""
