"""A bot conversation orchestrator: the Botpress Messaging API, YAML flows and channels."""

__version__ = "0.1.0"
