"""ZenML's module path for the enums: `from artrepo.enums import ArtifactType, VisualizationType`."""
from artrepo.records.artifact import ArtifactType, VisualizationType

__all__ = ["ArtifactType", "VisualizationType"]
