"""Drive a Dash app's callbacks over HTTP the way dash-renderer does, without a browser.

Used for protocol-level checks (out-of-order tokens, forged tokens, concurrent first writes)
that a browser cannot set up deterministically.
"""

from __future__ import annotations

from typing import Any

import requests


class DashClient:
    """One browser's view of an app: its cookie jar, the layout and the callback list."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.headers.update(headers or {})
        self.http.get(url + "/").raise_for_status()  # sets the session cookie
        self.layout = self.http.get(url + "/_dash-layout").json()
        self.callbacks = self.http.get(url + "/_dash-dependencies").json()

    def prop(self, component_id: str, name: str) -> Any:
        """A prop of a component in the layout (for a Store's data: its token)."""

        def walk(node: Any) -> Any:
            if isinstance(node, list):
                for child in node:
                    found = walk(child)
                    if found is not None:
                        return found
            elif isinstance(node, dict):
                props = node.get("props", {})
                if props.get("id") == component_id:
                    return props.get(name)
                return walk(props.get("children"))
            return None

        return walk(self.layout)

    def callback(self, output_prefix: str, input_ids: list[str] | None = None) -> dict:
        """The callback spec whose output starts with `output_prefix` (and has these inputs)."""
        for cb in self.callbacks:
            ins = [d["id"] for d in cb["inputs"]]
            if cb["output"].startswith(output_prefix) and (input_ids is None or ins == input_ids):
                return cb
        raise KeyError(f"no callback for {output_prefix} with inputs {input_ids}")

    def call(self, cb: dict, values: dict[tuple[str, str], Any]) -> requests.Response:
        """Run a callback with `values` for its inputs and states, as the renderer posts it."""
        return self.http.post(self.url + "/_dash-update-component", json=self.body(cb, values))

    @staticmethod
    def body(cb: dict, values: dict[tuple[str, str], Any]) -> dict:
        """The request body of a callback run with `values`, as the renderer posts it."""

        def entries(deps: list[dict]) -> list[dict]:
            return [{**d, "value": values.get((d["id"], d["property"]))} for d in deps]

        outputs = [_parse(o) for o in cb["output"].strip(".").split("...")]
        return {
            "output": cb["output"],
            "outputs": outputs[0]
            if len(outputs) == 1 and not cb["output"].startswith("..")
            else outputs,
            "inputs": entries(cb["inputs"]),
            "state": entries(cb["state"]),
            "changedPropIds": [f"{d['id']}.{d['property']}" for d in cb["inputs"]],
        }


def _parse(output: str) -> dict:
    component_id, _, prop = output.rpartition(".")
    return {"id": component_id, "property": prop}
