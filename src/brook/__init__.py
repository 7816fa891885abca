"""brook: a Kafka-compatible event-streaming broker in Python."""

__version__ = "0.1.0"
