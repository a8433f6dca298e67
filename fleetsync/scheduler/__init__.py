"""Decides WHEN work happens: the beat tick and its due-sets, manual triggers, the HTTP API and
Git webhooks, and the command line. Talks to workers only through task names and Redis."""
