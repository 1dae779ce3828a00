"""One app that uses every part of the Store API a Dash developer relies on, for browser tests."""

from __future__ import annotations

import os

import dash
from dash import ALL, MATCH, Dash, Input, Output, Patch, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

import dash_stash
from tests.support.servers import make_dash

SECRET = "top-secret-value-7f3a"


def make_app(backend: str, name: str = "features", server: str | None = None) -> Dash:
    """The app on `server` (Flask; "fastapi" / "quart" on Dash 4.2+)."""
    app = make_dash(name, server, suppress_callback_exceptions=True)
    dash_stash.init(app, backend)
    app.layout = html.Div(
        [
            dash_stash.Store(id="mem", data={"n": 0}),
            dash_stash.Store(id="ses", data={"n": 0}, storage_type="session"),
            dash_stash.Store(id="loc", data={"n": 0, "secret": SECRET}, storage_type="local"),
            html.Button("inc", id="inc"),
            html.Button("clear local", id="clear"),
            html.Button("bad", id="bad"),
            html.Div(id="scopes"),
            html.Div(id="stamp"),
            html.Div(id="trigger"),
            # pattern-matching stores
            *[
                html.Div(
                    [
                        dash_stash.Store(id={"type": "cart", "index": i}, data=[]),
                        html.Button(f"add {i}", id={"type": "add", "index": i}),
                        html.Button(f"bump {i}", id={"type": "bump", "index": i}),
                    ]
                )
                for i in range(3)
            ],
            html.Button("bump all", id="bump-all"),
            html.Div(id="carts"),
            # a store created by a callback
            html.Button("make", id="make"),
            html.Button("dyn inc", id="dyn-inc"),
            html.Div(id="dyn-box"),
            html.Div(id="dyn-show"),
        ]
    )

    @dash.callback(
        Output("mem", "data"),
        Output("ses", "data"),
        Output("loc", "data"),
        Input("inc", "n_clicks"),
        prevent_initial_call=True,
    )
    def inc(_):
        patches = [Patch(), Patch(), Patch()]
        for p in patches:
            p["n"] += 1
        return patches

    @app.callback(
        Output("loc", "clear_data"), Input("clear", "n_clicks"), prevent_initial_call=True
    )
    def clear(_):
        return True

    @app.callback(
        Output("scopes", "children"),
        Input("mem", "data"),
        Input("ses", "data"),
        Input("loc", "data"),
    )
    def show_scopes(mem, ses, loc):
        n = [d["n"] if isinstance(d, dict) else d for d in (mem, ses, loc)]
        return f"mem={n[0]} ses={n[1]} loc={n[2]}"

    @app.callback(
        Output("stamp", "children"), Input("loc", "modified_timestamp"), State("loc", "data")
    )
    def stamp(ts, loc):
        return f"ts>0={ts is not None and ts > 0} trig={ctx.triggered_id}"

    @app.callback(
        Output("loc", "data", allow_duplicate=True),
        Input("bad", "n_clicks"),
        State("loc", "data"),
        prevent_initial_call=True,
    )
    def bad(_, loc):
        loc["oops"] = object()  # not storable: the callback must fail and change nothing
        return loc

    @app.callback(
        Output({"type": "cart", "index": MATCH}, "data"),
        Input({"type": "add", "index": MATCH}, "n_clicks"),
        State({"type": "cart", "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def add(n, cart):
        return cart + [f"item{n}"]

    @app.callback(
        Output({"type": "cart", "index": MATCH}, "data", allow_duplicate=True),
        Input({"type": "bump", "index": MATCH}, "n_clicks"),
        prevent_initial_call=True,
    )
    def bump(n):  # writes without reading: a Patch on the server
        p = Patch()
        p.append(f"bump{n}")
        return p

    @app.callback(
        Output({"type": "cart", "index": ALL}, "data", allow_duplicate=True),
        Input("bump-all", "n_clicks"),
        prevent_initial_call=True,
    )
    def bump_all(n):  # writes every cart without reading: one Patch each, through ALL
        patches = []
        for _ in ctx.outputs_list:
            p = Patch()
            p.append("all")
            patches.append(p)
        return patches

    @app.callback(Output("carts", "children"), Input({"type": "cart", "index": ALL}, "data"))
    def carts(all_carts):
        return " | ".join(",".join(c) for c in all_carts)

    @app.callback(
        Output("dyn-box", "children"), Input("make", "n_clicks"), prevent_initial_call=True
    )
    def make(_):
        return dash_stash.Store(id="dyn", data={"made": 1, "n": 0})

    @app.callback(Output("dyn", "data"), Input("dyn-inc", "n_clicks"), prevent_initial_call=True)
    def dyn_inc(_):
        p = Patch()
        p["n"] += 1
        return p

    @app.callback(Output("dyn-show", "children"), Input("dyn", "data"))
    def dyn_show(dyn):
        if dyn is None:
            raise PreventUpdate
        return no_update if not dyn else f"made={dyn['made']} n={dyn['n']}"

    return app


def create_server():
    """For gunicorn, uvicorn (`--factory`) and hypercorn (DASH_SERVER, DASH_STASH_BACKEND)."""
    return make_app(os.environ["DASH_STASH_BACKEND"]).server
