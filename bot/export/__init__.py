"""The coach's data to take away: ``/coach export`` and Export my data, as JSON and Markdown in their DM."""
