"""What dash-stash does about differences and known bugs between the Dash versions it supports.

Everything here depends on a Dash version or on a Dash internal; the rest of the package calls
these functions instead of reaching into Dash itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .errors import StashError


def serialize_first_setup(app: Any) -> Callable[[], None]:
    """Dash's once-only server setup, as a function that finishes it before any request
    goes on; the app's `Web` runs it before every other hook of the server.

    `Dash._setup_server` runs before every request and sets its "done" flag *before* doing the
    work (plotly/dash#3971, fixed by #3980 in a later release): on a threaded server
    (`gunicorn --threads`, waitress, `flask run`) a second request that arrives during the first
    one's setup skips it, so the page stays on "Loading..." or a callback gets a 500 (Quart runs
    Dash's sync hook in threads too). The function runs the setup under a lock; once it has
    finished, Dash's own call returns at once. On a Dash that has the fix this only takes the
    lock once more, so it is installed on every version rather than guessed from versions.
    """
    if getattr(app, "server", None) is None:
        raise StashError(
            "dash_stash.init(app): the app has no server yet; with Dash(server=False), call "
            "dash_stash.init(app) after app.init_app(server)"
        )
    setup = getattr(app, "_setup_server", None)
    if setup is None:
        raise StashError(
            "dash-stash cannot find Dash's server setup (Dash._setup_server); "
            f"this Dash version ({_dash_version()}) is not supported yet. Please report it."
        )
    lock = threading.Lock()
    done = False

    def setup_once() -> None:
        nonlocal done
        if done:
            return
        with lock:
            if not done:
                setup()
                done = True

    return setup_once


def _dash_version() -> str:
    import dash

    return dash.__version__
