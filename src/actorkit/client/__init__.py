"""Clients: the same API in-process, over HTTP, async and blocking."""
