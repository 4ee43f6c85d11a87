"""`artrepo ui`: a read-only local web dashboard over a repository (see docs/ui.md).

    from artrepo.ui.server import make_server
    make_server(Path("."), port=8484).serve_forever()
"""
