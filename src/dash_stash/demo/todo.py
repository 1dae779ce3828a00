"""A to-do list kept in `local` scope: it survives reloads, new tabs and a browser restart.

Adding appends with a `Patch` (the server applies it to the latest list); toggling and
deleting read the list, change it and return it whole (the server merges that change into
the latest list, so two quick changes never undo each other).
"""

from __future__ import annotations

import secrets

from dash import ALL, Dash, Input, Output, Patch, State, ctx, dcc, html
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

import dash_stash


def section() -> Component:
    return html.Section(
        [
            html.H2("To-do list in local scope"),
            html.P(
                [
                    "Kept with ",
                    html.Code('dash_stash.Store(storage_type="local")'),
                    ": reload the page or restart the browser, the list is still there. "
                    "The browser holds only a signed token; the list itself is on the server.",
                ]
            ),
            dash_stash.Store(id="todos", data=[], storage_type="local"),
            dcc.Input(id="todo-new", placeholder="something to do"),
            html.Button("add", id="todo-add"),
            html.Ul(id="todo-list", style={"listStyle": "none", "paddingLeft": "0"}),
        ]
    )


def register(app: Dash) -> None:
    @app.callback(
        Output("todos", "data", allow_duplicate=True),
        Output("todo-new", "value"),
        Input("todo-add", "n_clicks"),
        Input("todo-new", "n_submit"),
        State("todo-new", "value"),
        prevent_initial_call=True,
    )
    def add_item(_clicks, _submits, text):
        if not text or not text.strip():
            raise PreventUpdate
        todos = Patch()
        todos.append({"id": secrets.token_hex(4), "text": text.strip(), "done": False})
        return todos, ""

    @app.callback(
        Output("todos", "data", allow_duplicate=True),
        Input({"type": "todo-toggle", "item": ALL}, "n_clicks"),
        Input({"type": "todo-delete", "item": ALL}, "n_clicks"),
        State("todos", "data"),
        prevent_initial_call=True,
    )
    def change_item(_toggles, _deletes, todos):
        clicked = ctx.triggered_id
        if not clicked or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # buttons re-rendered, not clicked
        if clicked["type"] == "todo-delete":
            return [t for t in todos if t["id"] != clicked["item"]]
        for t in todos:
            if t["id"] == clicked["item"]:
                t["done"] = not t["done"]
        return todos

    @app.callback(Output("todo-list", "children"), Input("todos", "data"))
    def show_items(todos):
        if not todos:
            return [html.Li("nothing to do", style={"color": "#777"})]
        return [item(t) for t in todos]


def item(todo: dict) -> Component:
    done = todo["done"]
    return html.Li(
        [
            html.Button(
                "☑" if done else "☐",
                id={"type": "todo-toggle", "item": todo["id"]},
                title="done / not done",
            ),
            html.Span(
                todo["text"],
                style={"margin": "0 8px", "textDecoration": "line-through" if done else "none"},
            ),
            html.Button("✕", id={"type": "todo-delete", "item": todo["id"]}, title="delete"),
        ],
        className="todo done" if done else "todo",
    )
