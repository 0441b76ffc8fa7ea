"""The legday command line: the edge of the house."""
