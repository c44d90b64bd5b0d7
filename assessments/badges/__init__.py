"""Badges: awards, their signed Open Badges credentials, signing keys, images and public pages."""
