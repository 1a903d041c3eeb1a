"""Alerts: conditions the vault watches for, raised once, resolved when they clear."""
