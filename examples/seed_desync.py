"""The seed article's `user_data` app, verbatim but for two lines (marked) and a slow-down knob.

With `dcc.Store` the two callbacks that `load_data` fires at once overwrite each other's
change; with `dash_stash.Store` both names stay. SEED_DELAY (seconds, default 0) makes each
callback sleep, as the article's 'long processing' would, so that they surely overlap.
"""

import os
import time

from dash import Dash, Input, Output, State, callback, dcc, html  # noqa: F401
from dash.exceptions import PreventUpdate

import dash_stash

DELAY = float(os.environ.get("SEED_DELAY", "0"))

app = Dash(__name__)
dash_stash.init(app)  # changed line 1 of 2
server = app.server

app.layout = html.Div(
    [
        dcc.Input(id="first_name", placeholder="first name"),
        dcc.Input(id="last_name", placeholder="last name"),
        html.Button("load data", id="load_data"),
        dash_stash.Store(id="user_data", data={}),  # changed line 2 of 2 (was dcc.Store)
        html.Pre(id="show"),
    ]
)


@callback(
    Output("user_data", "data", allow_duplicate=True),
    Input("first_name", "value"),
    State("user_data", "data"),
    prevent_initial_call=True,
)
def update_first_name(first_name, user_data):

    # Just update user_data with the first name
    if first_name:
        time.sleep(DELAY)
        user_data["first_name"] = first_name
        return user_data

    raise PreventUpdate


@callback(
    Output("user_data", "data", allow_duplicate=True),
    Input("last_name", "value"),
    State("user_data", "data"),
    prevent_initial_call=True,
)
def update_last_name(last_name, user_data):

    # Just update user_data with the last name
    if last_name:
        time.sleep(DELAY)
        user_data["last_name"] = last_name
        return user_data

    raise PreventUpdate


@app.callback(
    Output("first_name", "value"),
    Output("last_name", "value"),
    Input("load_data", "n_clicks"),
)
def load_data(n_clicks):
    if n_clicks:
        return "Mickael", "Jackson"
    raise PreventUpdate


@callback(Output("show", "children"), Input("user_data", "data"))
def show(user_data):
    import json

    return json.dumps(user_data, sort_keys=True)


if __name__ == "__main__":
    app.run(debug=False)
