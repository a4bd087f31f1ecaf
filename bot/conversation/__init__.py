"""A coaching turn: the coach's message in, the model's reply out, in order and once."""
