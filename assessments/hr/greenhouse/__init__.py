"""Greenhouse's Assessment Partner contract and its completion callback."""
