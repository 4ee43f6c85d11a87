"""The `artrepo` command line: parse, delegate, render; heavy imports inside commands."""
