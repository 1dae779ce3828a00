"""gunicorn settings for the tests' app servers.

Dash sets an app up on its first request and is not thread-safe there (plotly/dash#3971): a
browser's first burst of parallel requests to a fresh worker can get 500 for Dash's own
JavaScript, and the page never renders. So the app is loaded once in the master and given
one request there, before any worker is forked; every worker starts set up.
"""

preload_app = True


def when_ready(server):  # runs in the master, after loading the app, before forking workers
    server.app.wsgi().test_client().get("/")
