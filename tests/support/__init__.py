"""Helpers the tests share: an HTTP client that speaks Dash, stress writers, write kinds."""
