"""legday test suite."""
