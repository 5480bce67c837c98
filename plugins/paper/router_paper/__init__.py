"""The paper venue: a simulated broker that needs no keys. The embedded default."""

from .broker import PaperBroker, PaperConfig

__all__ = ["PaperBroker", "PaperConfig"]
