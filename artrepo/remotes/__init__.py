"""Remotes: push, pull and clone through fsspec (S3 first-class), as a transfer between two stores."""
