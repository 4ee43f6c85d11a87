"""Typed, versioned msgpack records; pure (no I/O)."""
