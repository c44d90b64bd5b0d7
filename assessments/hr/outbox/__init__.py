"""One outbox for outbound HTTP messages: the shared columns, the delivery state machine
(lease, retries, lost-message sweeps) and the SSRF-checked transport."""
