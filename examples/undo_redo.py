"""Undo and redo with `dash_stash.history` and `dash_stash.restore`.

dash-stash keeps every version of a store (20 by default, see `Retention`), so undo is
"make the version before this one current again" and needs no copy of old states in the
browser. History stays append-only: an undo commits the old value as a new version, so redo
is another restore. The `nav` store keeps the two stacks of version numbers.

    python examples/undo_redo.py   # then open http://127.0.0.1:8050/
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

import dash_stash

app = Dash(__name__)
dash_stash.init(app)
server = app.server

app.layout = html.Div(
    [
        dash_stash.Store(id="doc", data=[]),
        dash_stash.Store(id="nav", data={"undo": [], "redo": []}),
        dcc.Input(id="item", placeholder="an item"),
        html.Button("add", id="add"),
        html.Button("undo", id="undo"),
        html.Button("redo", id="redo"),
        html.Ul(id="items"),
        html.Div(id="versions"),
    ]
)


@app.callback(
    Output("doc", "data"),
    Output("nav", "data"),
    Input("add", "n_clicks"),
    Input("undo", "n_clicks"),
    Input("redo", "n_clicks"),
    State("item", "value"),
    State("doc", "data"),
    State("nav", "data"),
    prevent_initial_call=True,
)
def edit(_add, _undo, _redo, item, doc, nav):
    # The current version of `doc` (0 while it still holds its layout data).
    kept = dash_stash.history("doc")
    current = kept[0].version if kept else 0
    if ctx.triggered_id == "add":
        if not item:
            raise PreventUpdate
        # Version 0 is the layout's empty list: undoing the first add restores nothing, so
        # it is kept as "0" and undone by writing [] again.
        return [*doc, item], {"undo": [*nav["undo"], current], "redo": []}
    source, target = ("undo", "redo") if ctx.triggered_id == "undo" else ("redo", "undo")
    if not nav[source]:
        raise PreventUpdate
    wanted = nav[source][-1]
    nav = {source: nav[source][:-1], target: [*nav[target], current]}
    if wanted == 0:
        return [], nav
    # The old version becomes the newest; returned as the Output, the page follows it.
    return dash_stash.restore("doc", wanted), nav


@app.callback(
    Output("items", "children"),
    Output("versions", "children"),
    Input("doc", "data"),
)
def show(doc):
    kinds = [f"v{v.version} {v.kind}" for v in dash_stash.history("doc")]
    return [html.Li(x) for x in doc], "; ".join(kinds) or "no version yet"


if __name__ == "__main__":
    app.run(debug=True)
