"""The fault suite: real `coachbot serve` replicas while Slack, OpenAI and PostgreSQL misbehave."""
