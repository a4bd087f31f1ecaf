"""The coach's data to erase: ``/coach delete`` and Delete my data, on every replica."""
