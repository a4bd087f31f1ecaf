"""Follow-through: check-in DMs about a coach's commitments, and the answers to them."""
