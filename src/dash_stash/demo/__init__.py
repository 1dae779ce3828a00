"""The demo gallery that `dash-stash demo` serves (`app.py`): what dash-stash changes.

    from dash_stash.demo.app import make_app
    make_app("sqlite:///demo.db").run()

This module imports nothing, so the CLI names the demo's namespace without loading Dash.
"""

NAMESPACE = "dash-stash-demo"  # fixed, so `dash-stash inspect --namespace dash-stash-demo` works
