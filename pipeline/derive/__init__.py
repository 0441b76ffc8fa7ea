"""What legday derives from stored activities: kinds, metrics, recovery flags, refresh."""
