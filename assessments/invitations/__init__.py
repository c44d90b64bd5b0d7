"""Invitations: inviting candidates (one or many), expiry, cancelling and the invitation email."""
