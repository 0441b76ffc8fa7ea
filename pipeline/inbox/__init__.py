"""The watched inbox: readiness, filing files away after their outcome, the watcher."""
