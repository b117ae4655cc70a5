"""Offline evaluation of model bundles on held-out real data (never imported by the service)."""
