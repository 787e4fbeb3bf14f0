"""ocq-batch: the authoritative, post-event ranking of an Open Code Quest workshop."""

__version__ = "0.1.0"
