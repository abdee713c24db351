"""AI Commons: the operating software of an open, publicly governed AI supercomputing facility."""

__version__ = "0.1.0"
