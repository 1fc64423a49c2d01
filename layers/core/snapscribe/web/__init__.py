"""HTTP glue shared by the handlers: authentication, rate headers, idempotency, error tables."""
