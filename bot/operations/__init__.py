"""What operators and admins see: metrics, /perf, Prometheus, health, the weekly report."""
