"""Files as ZenML's `zenml.io` offers them: `from artrepo.io import fileio`.

Materializers read and write the files of an artifact version under their
`uri`, a local folder: `fileio` works on local paths (a URL is refused with a
clear error, see `fileio`), and `LocalArtifactStore` is the same functions
kept inside one folder, as `BaseMaterializer.artifact_store`.
"""
