"""ZenML's `zenml.metadata` path: `from artrepo.metadata.metadata_types import MetadataType`."""
