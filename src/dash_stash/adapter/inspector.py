"""The inspector routes: the "Stores" panel's JSON API and the operator page.

    <prefix>_dash-stash/panel/<name>  POST, JSON: the panel in Dash's dev tools (debug only)
    <prefix>_dash-stash/              GET: every session's stores (debug, or `inspector=`)
    <prefix>_dash-stash/sweep         POST: delete expired stores (same rights as the page)

They are not routes of the server: its `web.Web` asks `Inspector.intercept` before routing, so when
the inspector is off (no debug, no `inspector=`) the app routes those paths as if dash-stash
were not there (Dash answers them with its index page like any unknown path).

The panel's API only ever answers about the stores whose tokens the page sends: each token
must be one this app signed for the requesting browser session, so a browser can see and
restore its own stores and nothing else. Data is shown as `inspect.py` models it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import orjson

from .. import codec, scopes
from .._types import StoreSpec
from ..backends import StoreKey
from ..backends.base import Head
from ..engine import Restore
from ..errors import StashError, TokenError
from ..inspect import (
    InspectError,
    diff,
    expires_text,
    is_secret,
    record_at,
    row_json,
    rows,
    safe_url,
    session_label,
    size_text,
    tree,
    versions,
    when,
)
from . import web
from ._compat import stringify_id
from .integration import Located, Stash

PANEL_WRITER = "dash-stash inspector"  # the writer of a version restored from the panel
PAGE_ROWS = 1000  # stores listed on the operator page at most (totals count them all)
MAX_TOKENS = 500  # stores one panel request may ask about


class Refused(Exception):
    """A panel request that names no store of this browser, or is malformed: 400/403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(status: int, body: Any) -> web.Reply:
    return web.Reply(status, orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS))


def register_devtool() -> None:
    """Put the "Stores" panel into Dash's dev tools (Dash 3.2+; once per process, since
    Dash's hooks are global). Older Dash: panel.js opens it from a floating button."""
    import dash

    hooks = getattr(dash, "hooks", None)
    if hooks is None or not hasattr(hooks, "devtool") or getattr(hooks, "_dash_stash", False):
        return
    hooks.devtool("dash_stash", "StashPanel", {}, "right")
    hooks._dash_stash = True


class Inspector:
    """The inspector of one app: decides who may see what, and answers."""

    def __init__(self, stash: Stash, authorize: Callable[[Any], Any] | None) -> None:
        register_devtool()
        self.stash = stash
        self.authorize = authorize
        self.base = f"{stash.app.config.routes_pathname_prefix or '/'}_dash-stash/"
        self.panel: dict[str, Callable[[dict], dict]] = {
            "stores": self.panel_stores,
            "value": self.panel_value,
            "history": self.panel_history,
            "diff": self.panel_diff,
            "restore": self.panel_restore,
        }

    def debug(self) -> bool:
        """Is the app running with Dash's dev tools (`debug=True`)?"""
        return bool(getattr(self.stash.app, "_dev_tools", {}).get("ui"))

    # -- dispatch ----------------------------------------------------------------------

    def intercept(self, method: str, path: str) -> Any:
        """The reply to an inspector request; None for any other path, or when it is off."""
        if not path.startswith(self.base):
            return None
        sub = path[len(self.base) :]
        if sub.startswith("panel/") and sub[len("panel/") :] in self.panel:
            if not self.debug():
                return None
            if method != "POST":
                return _json(405, {"error": "POST a JSON body"})
            return self.answer_panel(sub[len("panel/") :])
        if sub in ("", "sweep"):
            allowed = self.page_allowed()
            if allowed is not True:
                return allowed
            if sub == "sweep" and method == "POST":
                removed = self.stash.engine.backend.sweep()
                return web.Reply(
                    303, "", "text/plain", {"Location": f"{self.base}?swept={removed}"}
                )
            if sub == "" and method == "GET":
                return web.Reply(200, self.page(web.request_args()), "text/html; charset=utf-8")
            return _json(405, {"error": "GET the page, POST a sweep"})
        return None

    def page_allowed(self) -> Any:
        """True if this request may see the operator page; else what to answer instead."""
        if self.authorize is None:
            return True if self.debug() else None  # off: the app routes it as usual
        verdict = self.authorize(web.native_request())
        if verdict is True:
            return True
        if web.is_response(verdict):
            return verdict  # the authorizer's own answer (a 401 asking for a password)
        # False, None, or anything else: only an explicit True lets a request in
        refusal = "Forbidden: not authorized for the dash-stash inspector"
        return web.Reply(403, refusal, "text/plain")

    def answer_panel(self, name: str) -> web.Reply:
        body = web.request_json()
        if not isinstance(body, dict):
            return _json(400, {"error": "send a JSON object as application/json"})
        try:
            return _json(200, self.panel[name](body))
        except Refused as exc:
            return _json(exc.status, {"error": str(exc)})
        except InspectError as exc:
            return _json(404, {"error": str(exc)})
        except StashError as exc:
            return _json(500, {"error": str(exc)})

    # -- the panel ---------------------------------------------------------------------

    def locate(self, body: dict) -> tuple[Located, StoreSpec]:
        """The store a panel request names, if its token is this browser's; else `Refused`."""
        component_id, sent = body.get("id"), body.get("token")
        if not isinstance(component_id, (str, dict)) or not isinstance(sent, str):
            raise Refused(400, "name a store: {id, token}")
        try:
            token = self.stash.signer.verify(sent, self.stash.session_id())
        except TokenError as exc:
            raise Refused(403, f"not a token of this browser's stores ({exc})") from None
        if token.store_id != stringify_id(component_id) or token.scope not in scopes.SCOPES:
            raise Refused(403, "the token belongs to another store")
        spec = self.stash.stores.get(component_id) or self.stash.spec_from_token(component_id, sent)
        if spec is None:
            raise Refused(403, "not a store of this app")
        return self.stash.locate(component_id, sent, spec), spec

    def panel_stores(self, body: dict) -> dict:
        """The page's stores: id, scope, version, size, last writer and when, expiry."""
        asked = body.get("stores")
        if not isinstance(asked, list) or len(asked) > MAX_TOKENS:
            raise Refused(400, f"send stores: a list of at most {MAX_TOKENS} {{id, token}}")
        out = []
        for item in asked:
            try:
                located, spec = self.locate(item if isinstance(item, dict) else {})
            except Refused:
                continue  # not this browser's: as if it were not on the page
            head = self.stash.engine.backend.head(located.key)
            row = (
                row_json(head)
                if head
                else {"id": located.key.store_id, "version": 0, "writer": "layout", "kind": ""}
            )
            out.append({**row, "rawId": item["id"], "scope": spec.scope, "ttl": spec.ttl})
        return {"stores": out}

    def value_at(self, located: Located, spec: StoreSpec, version: int | None) -> tuple[Any, int]:
        if version == 0 or (
            version is None and self.stash.engine.backend.read(located.key) is None
        ):
            return self.stash.seed_value(located.seed, spec.ttl), 0
        record = record_at(self.stash.engine.backend, located.key, version)
        return codec.decode(record.value), record.version

    def panel_value(self, body: dict) -> dict:
        """One node of a version's value tree (the latest by default)."""
        located, spec = self.locate(body)
        path, offset = body.get("path") or [], body.get("offset") or 0
        if not isinstance(path, list) or not isinstance(offset, int) or len(path) > 100:
            raise Refused(400, "path: a list of keys and indexes; offset: an integer")
        value, version = self.value_at(located, spec, _version(body, "version", optional=True))
        return {"version": version, "node": tree(value, path, offset=offset)}

    def panel_history(self, body: dict) -> dict:
        """Every version kept: writer, time, kind of write, and what merges settled."""
        located, _ = self.locate(body)
        kept = versions(self.stash.engine.backend, located.key)
        return {"versions": [v.as_json() for v in kept]}

    def panel_diff(self, body: dict) -> dict:
        """What changed from version `a` to version `b`, path by path."""
        located, spec = self.locate(body)
        a, b = _version(body, "a"), _version(body, "b")
        old, new = self.value_at(located, spec, a)[0], self.value_at(located, spec, b)[0]
        return {"a": a, "b": b, "changes": diff(old, new)}

    def panel_restore(self, body: dict) -> dict:
        """Commit an old version as the new one; the panel hands the page the new token so
        that the store's dependent callbacks fire."""
        located, spec = self.locate(body)
        old = record_at(self.stash.engine.backend, located.key, _version(body, "version"))
        new = self.stash.commit(
            located.key, Restore(old), ttl=spec.ttl, writer=PANEL_WRITER, label=old.key.store_id
        )
        token = self.stash.token(
            located.key.store_id, spec, located.key.scope, new.version, located.seed
        )
        return {"version": new.version, "token": token}

    # -- the operator page -------------------------------------------------------------

    def page(self, args: dict[str, str]) -> str:
        """Every session's stores: sizes per session and in total, expiry, search, sweep."""
        backend = self.stash.engine.backend
        wanted = args.get("q", "").strip()
        keys = [
            k
            for k in backend.keys(self.stash.namespace)
            if not wanted or wanted.lower() in k.store_id.lower()
        ]
        found = rows(backend, keys)
        sessions: dict[str, list[Head]] = {}
        for row in found:
            sessions.setdefault(session_label(row.key.session), []).append(row)
        total = sum(r.size for r in found)
        e = html.escape
        lines = [
            f"<h1>dash-stash: {e(self.stash.namespace)}</h1>",
            f"<p id='total'>{_count(len(found), 'store')} in {_count(len(sessions), 'session')}, "
            f"{e(size_text(total))} in total (backend {e(safe_url(backend.url))})</p>",
            "<form method='get'><input name='q' id='q' placeholder='store id' "
            f"value='{e(wanted)}'><button id='search'>Search</button></form>",
            f"<form method='post' action='{e(self.base)}sweep'>"
            "<button id='sweep'>Sweep expired stores</button></form>",
        ]
        if "swept" in args:
            swept = _count(int(args["swept"]) if args["swept"].isdigit() else 0, "expired store")
            lines.append(f"<p id='swept'>Swept {swept}.</p>")
        lines.append(
            "<table><tr><th>session (keyed hash)</th><th>scope</th><th>store</th>"
            "<th>version</th><th>size</th><th>writer</th><th>kind</th><th>updated</th>"
            "<th>expires</th></tr>"
        )
        shown = 0
        for label, members in sessions.items():
            size = sum(r.size for r in members)
            lines.append(
                f"<tr class='session'><th colspan='9'>{e(label)}: {_count(len(members), 'store')}, "
                f"{e(size_text(size))}</th></tr>"
            )
            for row in members[: max(0, PAGE_ROWS - shown)]:
                shown += 1
                cells = [
                    label,
                    _scope_name(row.key),
                    row.key.store_id + (" (not shown)" if is_secret(row.key) else ""),
                    str(row.version),
                    size_text(row.size),
                    row.writer or "-",
                    row.kind or "-",
                    when(row.updated),
                    expires_text(row.expires),
                ]
                lines.append(
                    "<tr class='store'>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>"
                )
        lines.append("</table>")
        if shown < len(found):
            lines.append(f"<p>{len(found) - shown} more stores: narrow the search.</p>")
        return _PAGE.format(body="\n".join(lines))


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _version(body: dict, name: str, *, optional: bool = False) -> Any:
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Refused(400, f"{name}: a version number")
    return value


def _scope_name(key: StoreKey) -> str:
    """What kind of instance a key's scope part is (see scopes.py), without its random part."""
    instance = key.scope
    prefixes = (("page-", "memory"), ("memory-", "memory"), ("tab-", "session"))
    for prefix, name in (*prefixes, ("session-", "session")):
        if instance.startswith(prefix):
            return name
    return {"seed": "layout data", "app": "app"}.get(instance, instance)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>dash-stash inspector</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
td, th {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; }}
tr.session th {{ background: #eef3fb; }}
form {{ display: inline-block; margin-right: 1em; }}
</style></head><body>
{body}
</body></html>
"""
