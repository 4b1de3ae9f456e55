"""Hub-and-spoke remote consultation: case requests, routing, response
deadlines and their escalation, answers, the follow-up thread, outcomes."""
