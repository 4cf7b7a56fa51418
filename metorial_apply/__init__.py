"""metorial-apply: a declarative reconciler for the Metorial API."""

__version__ = "0.1.0"
