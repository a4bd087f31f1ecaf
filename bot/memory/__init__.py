"""Memory across sessions: wrap-ups that summarise a session, and a new session that starts from them."""
