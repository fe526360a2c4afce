"""Channels: one module per platform, each translating between the platform and our payloads."""
