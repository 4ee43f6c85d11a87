"""The only package that knows git: objects, refs, packs and config, pygit2 imported inside it only."""
