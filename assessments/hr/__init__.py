"""The HR edge: the REST API (``api/``), webhooks, Greenhouse, and the outbox both deliver
through (``outbox/``). It depends on the features; no feature imports it."""
