"""The moderators' dashboard: a web page of what Longform noticed, did, and why (README)."""
