"""The `dash-stash` command: run the demo, see what stores hold and who wrote it, sweep.

    dash-stash demo [--host 127.0.0.1] [--port 8050] [--backend URL]
    dash-stash inspect --namespace dash-stash-demo [--session ID] [--show KEY [--diff A B]]
    dash-stash sweep [--backend URL]

`--backend` defaults to what `dash_stash.init` uses: DASH_STASH_BACKEND, else the SQLite file
./.dash_stash/stash.db. A user mistake (bad URL, missing file, unknown key) prints one line
on stderr and exits with status 1.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from . import codec, scopes
from .backends import Backend, StoreKey, default_backend_url, open_backend
from .codec import typed
from .demo import NAMESPACE as DEMO_NAMESPACE
from .errors import StashError, format_path
from .inspect import (
    describe,
    diff,
    expires_text,
    is_secret,
    record_at,
    rows,
    safe_url,
    size_text,
    versions,
    when,
)

MAX_LINES = 60  # of one value printed by `inspect --show`


class UserError(Exception):
    """A mistake on the command line: printed as one line, no traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dash-stash` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (UserError, StashError, OSError, sqlite3.Error) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"dash-stash {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dash-stash",
        description="dash-stash: a drop-in dcc.Store whose data lives on the server.",
        epilog=f"example: dash-stash demo, then dash-stash inspect --namespace {DEMO_NAMESPACE}",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    backend_help = (
        "backend URL: memory://, sqlite:///path.db or redis://host:port/0 "
        "(default: $DASH_STASH_BACKEND, else sqlite:///.dash_stash/stash.db)"
    )

    demo = commands.add_parser("demo", help="serve the demo gallery")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8050)
    demo.add_argument("--backend", help=backend_help)
    demo.set_defaults(run=run_demo)

    inspect = commands.add_parser(
        "inspect",
        help="list what stores hold; --show KEY prints one value and its history",
        epilog=f"example: dash-stash inspect --namespace {DEMO_NAMESPACE} --show todos",
    )
    inspect.add_argument("--backend", help=backend_help)
    inspect.add_argument(
        "--namespace",
        help="only this app's namespace: what it gave dash_stash.init("
        f"namespace=...), else '<module name>/' (e.g. 'app/'); the demo's is {DEMO_NAMESPACE}. "
        "Default: every app on the backend",
    )
    inspect.add_argument(
        "--session",
        help="only this browser session, as listed (a keyed hash: the backend never holds "
        "the cookie's session id)",
    )
    inspect.add_argument(
        "--show",
        metavar="KEY",
        help="print one value and its history; KEY is a listed key "
        "(session/scope/store id) or a store id that only one listed key has",
    )
    inspect.add_argument(
        "--diff",
        nargs=2,
        type=int,
        metavar=("A", "B"),
        help="with --show: what changed from version A to version B, path by path",
    )
    inspect.set_defaults(run=run_inspect)

    sweep = commands.add_parser("sweep", help="delete expired stores, print how many")
    sweep.add_argument("--backend", help=backend_help)
    sweep.set_defaults(run=run_sweep)
    return parser


# ---- demo ----------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    from .demo.app import make_app

    backend = args.backend or default_backend_url()
    app = make_app(backend)
    print(f"dash-stash demo on http://{args.host}:{args.port}/ (stores in {safe_url(backend)})")
    print(f"see what they hold: dash-stash inspect --namespace {DEMO_NAMESPACE}", flush=True)
    app.run(host=args.host, port=args.port, debug=False, threaded=True)
    return 0


# ---- inspect -------------------------------------------------------------------------------


def run_inspect(args: argparse.Namespace) -> int:
    backend = open_existing(args.backend)
    try:
        namespaces = [args.namespace] if args.namespace else backend.namespaces()
        keys = [k for ns in namespaces for k in backend.keys(ns, args.session)]
        if args.diff and not args.show:
            raise UserError("--diff A B needs --show KEY: the store whose versions to compare")
        if args.show and args.diff:
            print_diff(backend, find_key(keys, args.show), *args.diff)
        elif args.show:
            show(backend, find_key(keys, args.show))
        else:
            print_listing(backend, keys)
    finally:
        backend.close()
    return 0


def print_listing(backend: Backend, keys: list[StoreKey]) -> None:
    table = [
        [
            row.key.namespace,
            key_text(row.key),
            str(row.version),
            size_text(row.size),
            when(row.updated),
            row.writer or "-",
            row.kind or "-",
            expires_text(row.expires),
        ]
        for row in rows(backend, keys)
    ]
    if not table:
        print("no stores")
        return
    header = [
        "NAMESPACE",
        "KEY (session/scope/store id)",
        "VERSION",
        "SIZE",
        "UPDATED",
        "WRITER",
        "KIND",
        "EXPIRES",
    ]
    table = [[safe_text(cell) for cell in row] for row in table]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def find_key(keys: list[StoreKey], wanted: str) -> StoreKey:
    """The key `wanted` names: a full listed key, or a store id only one listed key has."""
    exact = [k for k in keys if key_text(k) == wanted]
    if exact:
        return exact[0]
    # a store id names a store's value, not the record that lists the app's stores
    by_id = [k for k in keys if k.store_id == wanted and k.scope != scopes.STORE_LIST]
    if len(by_id) == 1:
        return by_id[0]
    if by_id:
        raise UserError(
            f"{len(by_id)} stores have the id {wanted!r}; give one of these keys: "
            + ", ".join(key_text(k) for k in by_id)
        )
    raise UserError(
        f"no live store {wanted!r} here; run without --show to list them (a store "
        "no callback wrote yet holds its layout data, listed as /seed/<hash>)"
    )


def show(backend: Backend, key: StoreKey) -> None:
    """Print one value and its history (values only ever decoded, never imported from)."""
    with typed.no_imports():
        _show(backend, key)


def _show(backend: Backend, key: StoreKey) -> None:
    record = backend.read(key)
    if record is None:
        raise UserError(f"{key_text(key)} expired or was deleted just now")
    print(f"namespace  {safe_text(key.namespace)}\nkey        {key_text(key)}")
    writer = safe_text(record.writer or "-")
    print(f"version    {record.version}, written by {writer} at {when(record.updated)}")
    print(f"created    {when(record.created)}; expires {expires_text(record.expires)}")
    print(f"stored     {size_text(record.value.size)} ({record.value.codec})\n")
    if is_secret(key):
        print("(the secret that signs this app's tokens: not shown)")
    else:
        lines = safe_text(describe(codec.decode(record.value))).splitlines()
        print("\n".join(lines[:MAX_LINES]))
        if len(lines) > MAX_LINES:
            print(f"... {len(lines) - MAX_LINES:,} more lines")
    kept = versions(backend, key)
    print(f"\nhistory: the latest and {len(kept) - 1} older versions kept")
    for old in kept:
        print(
            f"  v{old.version:<5} {when(old.updated)}  {safe_text(old.writer or '-'):<24} "
            f"{old.kind or '-':<8} {size_text(old.size)}"
        )
        for conflict in old.conflicts:
            print(
                safe_text(
                    f"         conflict at {conflict['path']}: ours {conflict['ours']}, "
                    f"theirs {conflict['theirs']}; kept {conflict['kept']}"
                )
            )


def print_diff(backend: Backend, key: StoreKey, a: int, b: int) -> None:
    """Print what changed from version `a` to version `b` of one store."""
    if is_secret(key):
        raise UserError("the secret that signs this app's tokens is not shown")
    old, new = (codec.decode(record_at(backend, key, v).value) for v in (a, b))
    changes = diff(old, new)
    print(f"{key_text(key)}: version {a} -> {b}, {len(changes)} changes")
    for change in changes:
        path = format_path("", change["path"]) or "(the whole value)"
        if change["op"] == "changed":
            line = f"  ~ {path}: {change['old']} -> {change['new']}"
        elif change["op"] == "added":
            line = f"  + {path}: {change['new']}"
        else:
            line = f"  - {path}: {change['old']}"
        print(safe_text(line))


# ---- sweep ---------------------------------------------------------------------------------


def run_sweep(args: argparse.Namespace) -> int:
    backend = open_existing(args.backend, writable=True)
    try:
        removed = backend.sweep()
    finally:
        backend.close()
    print(f"swept {removed} expired store{'' if removed == 1 else 's'}")
    return 0


# ---- helpers -------------------------------------------------------------------------------


def open_existing(url: str | None, writable: bool = False) -> Backend:
    """Open a backend to look at (SQLite: read-only unless `writable`); a SQLite file that
    is not there is an error, not created."""
    url = url or default_backend_url()
    if url.startswith("sqlite:"):
        from .backends.sqlite import SQLiteBackend, path_from_url

        path = path_from_url(url)
        if not path.is_file():
            raise UserError(
                f"no SQLite file at {path} ({url}); give --backend, or set "
                "DASH_STASH_BACKEND as the app does"
            )
        if not writable:  # looking changes nothing, and works on a read-only copy
            return SQLiteBackend(url, read_only=True)
    elif url.startswith("memory:"):
        raise UserError(
            "memory:// lives inside the app's own process: there is nothing to "
            "inspect from outside; use a sqlite:/// or redis:// backend"
        )
    return open_backend(url)


def key_text(key: StoreKey) -> str:
    return safe_text(f"{key.session}/{key.scope}/{key.store_id}")


def safe_text(text: str) -> str:
    """`text` with control characters escaped: a stored name cannot drive the terminal."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


if __name__ == "__main__":
    sys.exit(main())
