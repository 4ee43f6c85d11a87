"""Pipelines: @step/@pipeline, step context, cache keys, executor, --explain."""
