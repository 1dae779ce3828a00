"""Small Dash apps the tests serve (in-process, or by gunicorn from this folder)."""
