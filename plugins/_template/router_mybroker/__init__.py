"""alert-router plugin for the mybroker venue."""

__version__ = "0.1.0"
