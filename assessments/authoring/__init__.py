"""Authoring: challenge sets as drafts and YAML files, publishing into frozen versions, answer
keys proven by running them, rendering, and the authoring admin."""
