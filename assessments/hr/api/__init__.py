"""The REST API for HR systems, under /api/v1/ (schema at /api/v1/schema/)."""
