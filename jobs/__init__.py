"""Scheduled jobs: the APScheduler set-up (``jobs.scheduler``), the app's jobs (``jobs.app_jobs``),
and the once-per-period claims that keep replicas from doing a job twice (``jobs.claims``)."""
