"""Tests against real redis-server processes."""
