"""The coach's data to erase: ``/coach delete`` and Delete my data, every row, file and cache entry, on every replica."""
