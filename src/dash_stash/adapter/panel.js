/* dash-stash "Stores" panel: what every dash-stash store of this page holds, who wrote it,
 * what changed, and restore. Plain JS on window.React (no build step).
 *
 * Dash 3.2+ renders window.dash_stash.StashPanel in its dev tools menu (hooks.devtool); on
 * older Dash, with the dev tools on, the same panel opens from a small floating button.
 * It asks <prefix>_dash-stash/panel/* about the stores whose tokens this page holds; the
 * server answers only for tokens signed for this browser, and only in debug mode.
 * Nothing runs while the panel is closed: it polls once a second only when open.
 */
(function () {
  "use strict";
  var React = window.React;
  var h = React.createElement;
  var POLL_MS = 1000;

  function dashConfig() {
    var el = document.getElementById("_dash-config");
    try {
      return el ? JSON.parse(el.textContent) : {};
    } catch (e) {
      return {};
    }
  }

  function api(name, body) {
    var prefix = dashConfig().requests_pathname_prefix || "/";
    return fetch(prefix + "_dash-stash/panel/" + name, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    }).then(function (r) {
      var json = (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (!json) {  // not answered by dash-stash: an app without it, or not in debug mode
        throw new Error("this app has no dash-stash inspector (HTTP " + r.status + ")");
      }
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || "HTTP " + r.status);
        return j;
      });
    });
  }

  function idKey(id) {
    if (typeof id === "string") return id;
    var keys = Object.keys(id).sort();
    return JSON.stringify(keys.reduce(function (o, k) { o[k] = id[k]; return o; }, {}));
  }

  /* The dash-stash stores of the rendered page: {key: {id, token}}, from Dash's own state. */
  function pageStores() {
    var found = {};
    var state = window.store && window.store.getState ? window.store.getState() : null;
    function walk(node, depth) {
      if (!node || typeof node !== "object" || depth > 200) return;
      if (Array.isArray(node)) {
        for (var i = 0; i < node.length; i++) walk(node[i], depth + 1);
        return;
      }
      var props = node.props;
      if (props && typeof props === "object" && typeof props.data === "string" &&
          props.data.indexOf("ds1.") === 0 && props.id !== undefined) {
        found[idKey(props.id)] = { id: props.id, token: props.data };
      }
      for (var k in node) {  // a layout node's props, or Dash's wrappers around the layout
        if (node[k] && typeof node[k] === "object") walk(node[k], depth + 1);
      }
    }
    if (state) walk(state.layout, 0);
    return found;
  }

  function pathText(path) {
    if (!path.length) return "(the whole value)";
    return path.map(function (p) { return "[" + JSON.stringify(p) + "]"; }).join("");
  }

  var S = {
    overlay: {
      position: "fixed", right: "12px", bottom: "56px", width: "min(1180px, 96vw)",
      height: "min(560px, 75vh)", background: "#fff", color: "#222", zIndex: 10000,
      border: "1px solid #c8d0dc", borderRadius: "6px", boxShadow: "0 6px 24px rgba(0,0,0,.18)",
      display: "flex", font: "12px system-ui, sans-serif", textAlign: "left",
    },
    list: { width: "44%", overflow: "auto", borderRight: "1px solid #e3e7ee" },
    detail: { flex: 1, overflow: "auto", padding: "8px 12px" },
    th: { padding: "4px 6px", borderBottom: "1px solid #e3e7ee", position: "sticky", top: 0,
          background: "#f6f8fb", fontWeight: 600 },
    td: { padding: "3px 6px", borderBottom: "1px solid #f0f2f5", whiteSpace: "nowrap" },
    mono: { fontFamily: "ui-monospace, monospace" },
    tab: function (on) {
      return { marginRight: "6px", padding: "2px 10px", border: "1px solid #c8d0dc",
               background: on ? "#119dff" : "#fff", color: on ? "#fff" : "#222",
               borderRadius: "4px", cursor: "pointer" };
    },
    floating: { position: "fixed", left: "12px", bottom: "12px", zIndex: 10000,
                padding: "4px 10px", borderRadius: "14px", border: "1px solid #119dff",
                background: "#fff", color: "#119dff", cursor: "pointer",
                font: "12px system-ui, sans-serif" },
  };

  /* One node of a value tree, opened on demand: the server sends one level at a time. */
  function TreeNode(props) {
    var s = props.summary;
    var openable = s.type === "dict" || s.type === "list" || s.type === "table";
    var where = JSON.stringify(props.path);
    var _open = React.useState(props.opened.has(where));
    var open = _open[0], setOpen = _open[1];
    var _node = React.useState(null);
    var node = _node[0], setNode = _node[1];
    var _err = React.useState(null);
    var err = _err[0], setErr = _err[1];

    function load(offset) {
      api("value", { id: props.store.rawId, token: props.store.token, version: props.version,
                     path: props.path, offset: offset || 0 })
        .then(function (r) {
          setNode(function (old) {
            if (old && offset) return Object.assign({}, r.node,
              { children: old.children.concat(r.node.children) });
            return r.node;
          });
        })
        .catch(function (e) { setErr(e.message); });
    }
    React.useEffect(function () {
      if (open && openable) load(0);
    }, [open, props.version, props.store.rawKey]);

    var label = props.name === undefined ? null
      : h("span", { style: { color: "#881391" } }, JSON.stringify(props.name) + ": ");
    var head = h("div", {
      className: "ds-tree-head", style: Object.assign({ cursor: openable ? "pointer" : "default" }, S.mono),
      onClick: function () {
        if (!openable) return;
        if (open) props.opened.delete(where); else props.opened.add(where);  // kept on updates
        setOpen(!open);
      },
    }, openable ? (open ? "▾ " : "▸ ") : "  ", label,
      h("span", { className: "ds-preview" }, s.preview));
    var body = null;
    if (open && openable && err) body = h("div", { style: { color: "#c00" } }, err);
    else if (open && openable && node) {
      if (s.type === "table") {
        var cols = Object.keys(node.dtypes || {});
        body = h("div", { className: "ds-table", style: { marginLeft: "14px" } },
          h("div", null, "shape " + JSON.stringify(node.shape) + "; dtypes: " +
            cols.map(function (c) { return c + " " + node.dtypes[c]; }).join(", ")),
          h("table", null, h("tbody", null,
            h("tr", null, cols.map(function (c) { return h("th", { key: c, style: S.th }, c); })),
            (node.rows || []).map(function (row, i) {
              return h("tr", { key: i }, cols.map(function (c) {
                return h("td", { key: c, style: S.td }, row[c]);
              }));
            }))));
      } else {
        body = h("div", { style: { marginLeft: "14px" } },
          node.children.map(function (c) {
            return h(TreeNode, { key: String(c.key), name: c.key, summary: c,
                                 path: props.path.concat([c.key]), store: props.store,
                                 version: props.version, opened: props.opened });
          }),
          node.more > 0 ? h("button", {
            className: "ds-more",
            onClick: function () { load(node.children.length); },
          }, node.more + " more…") : null);
      }
    }
    return h("div", { className: "ds-tree" }, head, body);
  }

  function ValueView(props) {
    var _root = React.useState(null);
    var root = _root[0], setRoot = _root[1];
    var opened = React.useRef(new Set(["[]"])).current;  // open paths, as the value changes
    React.useEffect(function () {
      api("value", { id: props.store.rawId, token: props.store.token, path: [] })
        .then(function (r) { setRoot(r); })
        .catch(function (e) { setRoot({ error: e.message }); });
    }, [props.store.rawKey, props.store.version]);
    if (!root) return h("div", null, "loading…");
    if (root.error) return h("div", { style: { color: "#c00" } }, root.error);
    return h("div", { id: "ds-value", "data-version": root.version },
      h(TreeNode, { summary: root.node, path: [], store: props.store, version: root.version,
                    opened: opened }));
  }

  function HistoryView(props) {
    var _v = React.useState(null);
    var kept = _v[0], setKept = _v[1];
    var _msg = React.useState("");
    var msg = _msg[0], setMsg = _msg[1];
    React.useEffect(function () {
      api("history", { id: props.store.rawId, token: props.store.token })
        .then(function (r) { setKept(r.versions); })
        .catch(function (e) { setMsg(e.message); });
    }, [props.store.rawKey, props.store.version]);

    function restore(version) {
      api("restore", { id: props.store.rawId, token: props.store.token, version: version })
        .then(function (r) {
          // The page's store gets the new token: its dependent callbacks fire.
          window.dash_clientside.set_props(props.store.rawId, { data: r.token });
          setMsg("restored version " + version + " as version " + r.version);
          props.onRestored();
        })
        .catch(function (e) { setMsg(e.message); });
    }
    if (!kept) return h("div", null, msg || "loading…");
    return h("div", null,
      msg ? h("div", { id: "ds-message", style: { margin: "4px 0", color: "#0a6" } }, msg) : null,
      h("table", { id: "ds-history" }, h("tbody", null,
        h("tr", null, ["version", "kind", "writer", "time", "size", ""].map(function (c) {
          return h("th", { key: c, style: S.th }, c);
        })),
        kept.map(function (v, i) {
          var conflicts = (v.details && v.details.conflicts) || [];
          return [
            h("tr", { key: v.version, className: "ds-version", "data-version": v.version },
              h("td", { style: S.td }, "v" + v.version),
              h("td", { style: S.td, className: "ds-kind" }, v.kind || "-",
                v.details && v.details.from !== undefined ? " (of v" + v.details.from + ")" : ""),
              h("td", { style: S.td }, v.writer || "-"),
              h("td", { style: S.td }, v.updated_text),
              h("td", { style: S.td }, v.size_text),
              h("td", { style: S.td }, i === 0 ? "current" : h("button", {
                className: "ds-restore", "data-version": v.version,
                onClick: function () { restore(v.version); },
              }, "restore"))),
            conflicts.length ? h("tr", { key: v.version + "c", className: "ds-conflicts" },
              h("td", { colSpan: 6, style: Object.assign({}, S.td, { whiteSpace: "normal" }) },
                conflicts.map(function (c, j) {
                  return h("div", { key: j, className: "ds-conflict", style: S.mono },
                    "conflict at " + pathText(c.path) + ": " + (v.writer || "this write") +
                    " wrote " + c.ours + ", " + (v.details.theirs_writer || "another writer") +
                    " wrote " + c.theirs + " (base " + c.base + "); the policy kept " + c.kept +
                    ": " + c.value);
                }))) : null,
          ];
        }))));
  }

  function DiffView(props) {
    var _v = React.useState([]);
    var kept = _v[0], setKept = _v[1];
    var _a = React.useState(null), a = _a[0], setA = _a[1];
    var _b = React.useState(null), b = _b[0], setB = _b[1];
    var _r = React.useState(null), result = _r[0], setResult = _r[1];
    React.useEffect(function () {
      api("history", { id: props.store.rawId, token: props.store.token }).then(function (r) {
        var nums = r.versions.map(function (v) { return v.version; });
        setKept(nums);
        if (nums.length) {
          setB(function (old) { return old === null ? nums[0] : old; });
          setA(function (old) { return old === null ? nums[Math.min(1, nums.length - 1)] : old; });
        }
      });
    }, [props.store.rawKey, props.store.version]);
    function select(id, value, set) {
      return h("select", { id: id, value: value === null ? "" : value,
                           onChange: function (e) { set(Number(e.target.value)); } },
        kept.map(function (n) { return h("option", { key: n, value: n }, "v" + n); }));
    }
    function go() {
      api("diff", { id: props.store.rawId, token: props.store.token, a: a, b: b })
        .then(setResult).catch(function (e) { setResult({ error: e.message }); });
    }
    var out = null;
    if (result && result.error) out = h("div", { style: { color: "#c00" } }, result.error);
    else if (result) {
      out = h("div", { id: "ds-diff" },
        h("div", null, "v" + result.a + " → v" + result.b + ": " + result.changes.length + " changes"),
        result.changes.map(function (c, i) {
          var sign = { added: "+", removed: "-", changed: "~" }[c.op];
          var color = { added: "#0a6", removed: "#c00", changed: "#a60" }[c.op];
          return h("div", { key: i, className: "ds-change", "data-op": c.op,
                            style: Object.assign({ color: color }, S.mono) },
            sign + " " + pathText(c.path) + ": " +
            (c.op === "changed" ? c.old + " → " + c.new : c.op === "added" ? c.new : c.old));
        }));
    }
    return h("div", null, "from ", select("ds-diff-a", a, setA), " to ", select("ds-diff-b", b, setB),
      " ", h("button", { id: "ds-diff-go", onClick: go }, "diff"), out);
  }

  function Overlay(props) {
    var _stores = React.useState([]);
    var stores = _stores[0], setStores = _stores[1];
    var _sel = React.useState(null);
    var selected = _sel[0], setSelected = _sel[1];
    var _tab = React.useState("value");
    var tab = _tab[0], setTab = _tab[1];
    var _err = React.useState(null);
    var err = _err[0], setErr = _err[1];
    var _tick = React.useState(0);
    var tick = _tick[0], setTick = _tick[1];

    React.useEffect(function () {
      var alive = true;
      function poll() {
        var onPage = pageStores();
        var asked = Object.keys(onPage).map(function (k) { return onPage[k]; });
        api("stores", { stores: asked }).then(function (r) {
          if (!alive) return;
          setErr(null);
          setStores(r.stores.map(function (s) {
            var key = idKey(s.rawId);
            return Object.assign({}, s, { rawKey: key, token: onPage[key].token });
          }));
        }).catch(function (e) { if (alive) setErr(e.message); });
      }
      poll();
      var timer = setInterval(poll, POLL_MS);
      return function () { alive = false; clearInterval(timer); };
    }, [tick]);

    var current = null;
    stores.forEach(function (s) { if (s.rawKey === selected) current = s; });
    var detail = h("div", { style: { color: "#888" } }, "select a store");
    if (current) {
      var views = { value: ValueView, history: HistoryView, diff: DiffView };
      detail = h("div", null,
        h("div", { style: { marginBottom: "6px", fontWeight: 600 } },
          current.id + " — v" + current.version + ", " + current.scope),
        h("div", { style: { marginBottom: "8px" } }, ["value", "history", "diff"].map(function (t) {
          return h("button", { key: t, id: "ds-tab-" + t, style: S.tab(tab === t),
                               onClick: function () { setTab(t); } }, t);
        })),
        h(views[tab], { store: current, key: tab + current.rawKey,
                        onRestored: function () { setTick(tick + 1); } }));
    }
    return h("div", { id: "dash-stash-panel", style: S.overlay },
      h("div", { style: S.list },
        h("div", { style: { padding: "6px 8px", fontWeight: 600 } }, "dash-stash stores",
          h("button", { style: { float: "right" }, onClick: props.onClose, id: "ds-close" }, "×")),
        err ? h("div", { style: { color: "#c00", padding: "6px" } }, err) : null,
        h("table", { style: { borderCollapse: "collapse", width: "100%" } }, h("tbody", null,
          h("tr", null, ["store", "scope", "v", "size", "last writer", "when", "expires"].map(
            function (c) { return h("th", { key: c, style: S.th }, c); })),
          stores.map(function (s) {
            return h("tr", {
              key: s.rawKey, className: "ds-store", "data-id": s.rawKey,
              style: { cursor: "pointer", background: s.rawKey === selected ? "#e6f4ff" : "" },
              onClick: function () { setSelected(s.rawKey); },
            },
              h("td", { style: Object.assign({}, S.td, S.mono) }, s.id),
              h("td", { style: S.td }, s.scope),
              h("td", { style: S.td, className: "ds-store-version" }, s.version),
              h("td", { style: S.td }, s.size_text || "-"),
              h("td", { style: S.td }, s.writer || "-"),
              h("td", { style: S.td }, s.updated_text || "-"),
              h("td", { style: S.td }, s.expires_text || "-"));
          })))),
      h("div", { style: S.detail }, detail));
  }

  /* The dev tools button (or the floating one) and, when open, the panel. */
  function StashPanel(props) {
    var _open = React.useState(false);
    var open = _open[0], setOpen = _open[1];
    var button = h("button", {
      id: "dash-stash-panel-button",
      className: props.floating ? null : "dash-debug-menu__button" +
        (open ? " dash-debug-menu__button--selected" : ""),
      style: props.floating ? S.floating : null,
      onClick: function () { setOpen(!open); },
    }, "Stores");
    var panel = open ? h(Overlay, { onClose: function () { setOpen(false); } }) : null;
    if (panel && window.ReactDOM && window.ReactDOM.createPortal) {
      panel = window.ReactDOM.createPortal(panel, document.body);
    }
    return h(React.Fragment, null, button, panel);
  }

  window.dash_stash = Object.assign(window.dash_stash || {}, { StashPanel: StashPanel });

  /* Older Dash (no hooks.devtool): with the dev tools on, mount a floating button. */
  function mountFloating() {
    var config = dashConfig();
    var viaDevtools = (config.dev_tools || []).some(function (d) {
      return d.namespace === "dash_stash";
    });
    if (!config.ui || viaDevtools || document.getElementById("dash-stash-floating")) return;
    var root = document.createElement("div");
    root.id = "dash-stash-floating";
    document.body.appendChild(root);
    var element = h(StashPanel, { floating: true });
    if (window.ReactDOM.createRoot) window.ReactDOM.createRoot(root).render(element);
    else window.ReactDOM.render(element, root);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountFloating);
  else mountFloating();
})();
