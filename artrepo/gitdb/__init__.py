"""The only package that imports pygit2: git objects and refs as typed calls."""
