"""`init` checks every Dash internal dash-stash uses, and names the one that moved.

A Dash release without one of them cannot be installed here, so each test takes one away
from the installed Dash (monkeypatch) and checks that `init` refuses the app at once, with
the name and the Dash version, instead of failing later at a user's click.
"""

from __future__ import annotations

import importlib

import dash
import pytest
from dash import Dash, html
from dash.development.base_component import Component

import dash_stash
import dash_stash.adapter.install  # noqa: F401 - the adapter binds _compat's names before any test patches one
from dash_stash.adapter import _compat
from dash_stash.errors import StashError

pytestmark = pytest.mark.integration

MODULE_NAMES = {  # attribute of _compat -> the Dash name the error must give
    "stringify_id": "dash._utils.stringify_id",
    "inputs_to_dict": "dash._utils.inputs_to_dict",
    "flatten_grouping": "dash._grouping.flatten_grouping",
    "map_grouping": "dash._grouping.map_grouping",
    "NoUpdate": "dash._callback.NoUpdate",
    "_register_callback": "dash._callback.register_callback",
    "_context_value": "dash._callback_context.context_value",
}


def refused(tmp_path) -> str:
    app = Dash(__name__)
    app.layout = html.Div()
    with pytest.raises(StashError) as raised:
        dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    assert getattr(app, "_dash_stash", None) is None
    return str(raised.value)


def test_every_touchpoint_is_found_on_this_dash(tmp_path):
    app = Dash(__name__)
    _compat.probe(app)  # raises if anything moved


@pytest.mark.parametrize("name", sorted(MODULE_NAMES))
def test_a_private_name_missing_from_dash_fails_at_init_naming_it(monkeypatch, tmp_path, name):
    module, _, attr = MODULE_NAMES[name].rpartition(".")
    monkeypatch.delattr(importlib.import_module(module), attr)
    monkeypatch.setattr(_compat, name, _compat._private(module, attr))  # as on that Dash
    message = refused(tmp_path)
    assert MODULE_NAMES[name] in message
    assert dash.__version__ in message and "not supported" in message


def _a_manager_without_func_registry(monkeypatch) -> None:
    """A background manager (as Dash's base class registers them) lacking what we wrap."""
    from dash.background_callback.managers import BaseBackgroundCallbackManager

    class Moved:
        build_cache_key = staticmethod(lambda *a: "")

    monkeypatch.setattr(BaseBackgroundCallbackManager, "managers", [Moved()])


@pytest.mark.parametrize(
    "take_away, named",
    [
        (lambda mp: mp.delattr(Component, "_traverse"), "Component._traverse"),
        (lambda mp: mp.setattr(Dash, "_setup_server", None), "Dash._setup_server"),
        (lambda mp: mp.setattr(_compat, "CALLBACK_KEYS", (*_compat.CALLBACK_KEYS, "x")), "'x'"),
        (lambda mp: mp.setattr(_compat, "func_cell", _no_cell), "add_context"),
        (_a_manager_without_func_registry, "func_registry"),
    ],
)
def test_a_moved_dash_internal_fails_at_init_naming_it(monkeypatch, tmp_path, take_away, named):
    take_away(monkeypatch)
    message = refused(tmp_path)
    assert named in message and dash.__version__ in message


def _no_cell(dispatch):
    raise _compat._unsupported("the user function inside Dash's callback wrapper (add_context)")
