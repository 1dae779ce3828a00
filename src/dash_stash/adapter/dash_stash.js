/*
 * dash-stash in the browser: every way JavaScript reads or sets a dash-stash Store goes
 * through the server, so the browser only ever holds tokens.
 *
 * - Clientside callbacks that use a `data` prop are served (see browser.py) as
 *   `dash_clientside._dash_stash['{"ns":..,"fn":..,"cb":..}']`: this wrapper swaps the store
 *   tokens among their arguments for values (POST _dash-stash/read), calls the app's function,
 *   and commits what it returns to a store (POST _dash-stash/write), returning the new token.
 *   Dash awaits the Promise the wrapper returns.
 * - `dash_clientside.set_props(id, {data: ...})` on a Store commits the same way first.
 *
 * - Live updates: the page posts the tokens of the stores it shows to _dash-stash/live and
 *   reads the event stream it answers; each event carries fresh tokens for stores whose
 *   value changed elsewhere (another user, a background job, another server), which the
 *   page sets as a callback's output would be set, so dependent callbacks fire.
 *
 * The server decides what is a dash-stash store and checks session and token, exactly as for
 * server callbacks; a failure is thrown (Dash shows it), never swallowed.
 */
(function () {
    "use strict";
    var PREFIX = "ds1.";

    function dc() {
        return window.dash_clientside; // apps often replace the object: always look it up
    }

    function isToken(v) {
        return typeof v === "string" && v.indexOf(PREFIX) === 0;
    }

    function route(name) {
        var prefix = "/";
        var config = document.getElementById("_dash-config");
        if (config) {
            prefix = JSON.parse(config.textContent).requests_pathname_prefix || "/";
        }
        return prefix + "_dash-stash/" + name;
    }

    async function post(name, body) {
        var response = await fetch(route(name), {
            method: "POST",
            credentials: "same-origin",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify(body),
        });
        var text = await response.text();
        if (response.status === 404 || response.status === 405) {
            return null; // this app has no dash-stash (dash_stash.init was not called)
        }
        if (!response.ok) {
            throw new Error("dash-stash " + name + " failed (" + response.status + "): " + text);
        }
        return JSON.parse(text);
    }

    function layoutOf(id) {
        var api = window.dash_component_api;
        if (!api || !api.getLayout) {
            throw new Error("dash-stash needs dash_component_api.getLayout (Dash 3 or later)");
        }
        return api.getLayout(id);
    }

    function isStore(id) {
        var node = layoutOf(id);
        return Boolean(node && node.type === "Store");
    }

    /* Commit one write of `prop` ("data" or "clear_data") to store `id`; returns what the
     * browser should hold instead of `value` (a token), or `value` itself if `id` turns out
     * not to be a dash-stash store. */
    async function commit(id, prop, value, callback, base) {
        var node = layoutOf(id);
        var body = {
            id: id,
            prop: prop,
            token: node && node.props ? node.props.data : null,
            callback: callback || null,
            value: value === undefined ? null : value,
        };
        if (base) {
            body.base = base;
        }
        var result = await post("write", body);
        return result && result.stash ? result.value : value;
    }

    // ---- clientside callbacks ------------------------------------------------------------

    function entries(dep, visit) {
        if (Array.isArray(dep)) {
            dep.forEach(function (d, j) {
                visit(d, j);
            });
        } else if (dep) {
            visit(dep, null);
        }
    }

    async function run(meta, args, ctx) {
        var deps = (ctx.inputs_list || []).concat(ctx.states_list || []);
        var wanted = [];
        deps.forEach(function (dep, i) {
            entries(dep, function (d, j) {
                if (d.property === "data" && isToken(d.value)) {
                    wanted.push({i: i, j: j, id: d.id, token: d.value});
                }
            });
        });
        var bases = {};
        if (wanted.length) {
            var read = await post("read", {
                callback: meta.cb,
                stores: wanted.map(function (w) {
                    return {id: w.id, token: w.token};
                }),
            });
            wanted.forEach(function (w, k) {
                var value = read.values[k];
                if (w.j === null) {
                    args[w.i] = value;
                } else {
                    args[w.i] = args[w.i].slice();
                    args[w.i][w.j] = value;
                }
                if (read.versions[k] !== null) {
                    bases[JSON.stringify(w.id)] = {
                        version: read.versions[k],
                        value: JSON.parse(JSON.stringify(value)),
                    };
                }
            });
        }
        var fn = dc()[meta.ns] && dc()[meta.ns][meta.fn];
        if (typeof fn !== "function") {
            throw new Error("dash-stash: no clientside function " + meta.ns + "." + meta.fn);
        }
        var result;
        dc().callback_context = ctx; // Dash removed it when our wrapper returned its Promise
        try {
            result = fn.apply(null, args);
        } finally {
            delete dc().callback_context;
        }
        if (result && typeof result.then === "function") {
            result = await result;
        }
        return writeOutputs(ctx.outputs_list, result, meta, bases);
    }

    async function writeOne(out, value, meta, bases) {
        var prop = out.property.split("@")[0];
        if ((prop !== "data" && prop !== "clear_data") || value === dc().no_update) {
            return value;
        }
        if (!isStore(out.id)) {
            return value;
        }
        var base = prop === "data" ? bases[JSON.stringify(out.id)] : undefined;
        return commit(out.id, prop, value, meta.cb, base);
    }

    async function writeOutputs(outputs, result, meta, bases) {
        if (!outputs || result === dc().no_update) {
            return result;
        }
        if (!Array.isArray(outputs)) {
            return writeOne(outputs, result, meta, bases);
        }
        return Promise.all(
            outputs.map(function (out, k) {
                if (!Array.isArray(out)) {
                    return writeOne(out, result[k], meta, bases);
                }
                if (result[k] === dc().no_update) {
                    return result[k];
                }
                return Promise.all(
                    out.map(function (o, kk) {
                        return writeOne(o, result[k][kk], meta, bases);
                    })
                );
            })
        );
    }

    function wrapper(meta) {
        return function () {
            var args = Array.prototype.slice.call(arguments);
            return run(meta, args, dc().callback_context || {});
        };
    }

    var wrappers = new Proxy(
        {},
        {
            get: function (_, name) {
                if (typeof name !== "string" || name.charAt(0) !== "{") {
                    return undefined;
                }
                return wrapper(JSON.parse(name));
            },
        }
    );

    // ---- dash_clientside.set_props ---------------------------------------------------------

    var setProps = null; // the renderer's

    function stashSetProps(id, props) {
        var keys = props ? Object.keys(props) : [];
        var ours = keys.filter(function (k) {
            // A token is already the server's (the inspector's restore hands the page one):
            // the store takes it as it is, as from a server callback.
            return (k === "data" && !isToken(props[k])) || k === "clear_data";
        });
        if (!ours.length || Array.isArray(id) || !isStore(id)) {
            return setProps(id, props);
        }
        var done = ours.reduce(function (previous, key) {
            return previous.then(function (out) {
                return commit(id, key, props[key], null, null).then(function (v) {
                    out[key] = v;
                    return out;
                });
            });
        }, Promise.resolve(Object.assign({}, props)));
        return done.then(function (out) {
            setProps(id, out);
        });
    }

    function getSetProps() {
        return setProps && stashSetProps;
    }

    function putSetProps(f) {
        if (f !== stashSetProps) {
            setProps = f;
        }
    }

    /* Our wrappers and our set_props on a dash_clientside object. The renderer assigns its
     * set_props after this script runs, and apps replace the object with a copy
     * (Object.assign({}, window.dash_clientside, {...})): both keep ours on top. */
    function install(obj) {
        if (!obj || typeof obj !== "object") {
            return obj;
        }
        var own = Object.getOwnPropertyDescriptor(obj, "set_props");
        if (!own || own.get !== getSetProps) {
            if (own && typeof own.value === "function") {
                putSetProps(own.value);
            }
            Object.defineProperty(obj, "set_props", {
                configurable: true,
                enumerable: false,
                get: getSetProps,
                set: putSetProps,
            });
        }
        obj._dash_stash = wrappers;
        return obj;
    }

    // ---- live updates -------------------------------------------------------------------

    /* A field of a token's payload (signed, not secret): 1 the scope, 2 the scope
     * instance, 3 the version. */
    function tokenField(token, index) {
        try {
            var payload = token.slice(PREFIX.length).split(".")[0];
            var text = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
            return JSON.parse(text)[index];
        } catch (e) {
            return null;
        }
    }

    function tokenVersion(token) {
        return tokenField(token, 3);
    }

    /* Every dash-stash store on the page but `local` ones (their tabs follow each other
     * through the browser's storage event): each may change elsewhere (a background job, a
     * script, another host). The server decides which pages hold a
     * stream and which ask again later (stream.py), from what `subscription` says. */
    function shownStores(paths) {
        var api = window.dash_component_api;
        var found = [];
        var all = Object.values(paths.strs || {});
        Object.values(paths.objs || {}).forEach(function (items) {
            items.forEach(function (item) {
                all.push(item.path);
            });
        });
        all.forEach(function (path) {
            var node = api.getLayout(path);
            var data = node && node.type === "Store" && node.props ? node.props.data : null;
            // not `local`: the browser's storage event already carries another tab's
            // token, and a live event racing it lost a tab's own write (two-tab test)
            if (isToken(data) && tokenField(data, 1) !== "local") {
                found.push({id: node.props.id, token: node.props.data});
            }
        });
        return found;
    }

    /* Is one of the page's background callbacks running? Its job may write any store of
     * the page, so the page is hot: it keeps a stream if the server has one to spare, else
     * asks every second. */
    function jobsRunning() {
        var jobs = window.store.getState().callbackJobs || {};
        return Object.keys(jobs).length > 0;
    }

    /* Callbacks the page has completed so far: any of them may have set a writer going. */
    function completed() {
        var callbacks = window.store.getState().callbacks || {};
        return callbacks.completed || 0;
    }

    /* What the page posts to the live route: its stores, whether it is hot, and how many
     * asks in a row found nothing (0 again after any callback of its own): an idle page
     * asks less and less often, at most `LiveRoute.idle_poll` apart. */
    function subscription(stores) {
        var done = completed();
        if (done !== live.completed) {
            live.completed = done;
            live.quiet = 0;
        }
        return {stores: stores, hot: jobsRunning(), quiet: live.quiet};
    }

    var BUSY = ["requested", "prioritized", "blocked", "executing", "watched", "executed"];
    var waiting = {first: 0, updates: {}, timer: null};

    /* Is a callback of the page under way that may write store `id`? Any callback, but a
     * running background job only if it outputs `id` (a job may run for minutes: an event
     * of another store must not wait for it). */
    function busy(id) {
        var callbacks = window.store.getState().callbacks || {};
        var name = typeof id === "string" ? id + "." : null; // a dict id: any job may
        return BUSY.some(function (k) {
            return (callbacks[k] || []).some(function (cb) {
                var spec = cb.callback || {};
                return !spec.background || !name || String(spec.output).indexOf(name) !== -1;
            });
        });
    }

    /* Keep an event's tokens until the page's own callbacks that may write the store have
     * settled (at most 2 s): an event often tells of the page's own write before that
     * callback's answer arrives, and setting it first would fire the store's dependents
     * twice (dcc.Store: once). */
    function follow(update) {
        waiting.updates[JSON.stringify(update.id)] = update;
        waiting.first = waiting.first || Date.now();
        settle();
    }

    function settle() {
        if (waiting.timer) {
            return;
        }
        var late = Date.now() - waiting.first >= 2000;
        Object.keys(waiting.updates).forEach(function (key) {
            var update = waiting.updates[key];
            if (late || !busy(update.id)) {
                delete waiting.updates[key];
                apply(update);
            }
        });
        if (Object.keys(waiting.updates).length) {
            waiting.timer = setTimeout(function () {
                waiting.timer = null;
                settle();
            }, 20);
        } else {
            waiting.first = 0;
        }
    }

    /* Set a fresh token the server sent, unless the page has it (or a newer one) already,
     * or has moved on to another instance of the store since it subscribed (decision 77). */
    function apply(update) {
        var node = layoutOf(update.id);
        var had = node && node.props ? node.props.data : null;
        if (!node || !isToken(had) || had === update.token) {
            return; // cleared on this page (clear_data: None, as dcc.Store), or already had
        }
        if (tokenField(had, 2) !== tokenField(update.token, 2)) {
            // news of the instance the page showed when it subscribed (a background job's,
            // whose progress_default or a callback gave the store a new one since): stale
            return;
        }
        var before = isToken(had) ? tokenVersion(had) : null;
        var after = tokenVersion(update.token);
        if (before !== null && after !== null && after !== 0 && after <= before) {
            return; // the page has this version (another tab's storage event) or a newer one
        }
        setProps(update.id, {data: update.token});
    }

    var live = {paths: null, ids: null, hot: false, abort: null, failures: 0, quiet: 0, completed: 0};

    async function listen(stores) {
        var controller = new AbortController();
        live.abort = controller;
        var retry = 1000;
        try {
            var response = await fetch(route("live"), {
                method: "POST",
                credentials: "same-origin",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify(subscription(stores)),
                signal: controller.signal,
            });
            if (response.status === 404 || response.status === 405) {
                live.ids = "off"; // this app has no dash-stash, or no live route
                return;
            }
            if (response.status === 204) {
                live.ids = "none"; // none of these stores is this browser's: wait for others
                return;
            }
            if (!response.ok || !response.body) {
                throw new Error("dash-stash live: " + response.status);
            }
            var reader = response.body.getReader();
            var decoder = new TextDecoder();
            var buffer = "";
            for (;;) {
                var chunk = await reader.read();
                if (chunk.done) {
                    break;
                }
                buffer += decoder.decode(chunk.value, {stream: true});
                var events = buffer.split("\n\n");
                buffer = events.pop();
                events.forEach(function (event) {
                    event.split("\n").forEach(function (line) {
                        if (line.indexOf("retry: ") === 0) {
                            retry = parseInt(line.slice(7), 10) || retry;
                        } else if (line.indexOf("data: ") === 0) {
                            live.quiet = -1; // counted up to 0 below: something changed
                            JSON.parse(line.slice(6)).stores.forEach(follow);
                        }
                    });
                });
            }
            live.failures = 0;
            live.quiet += 1;
        } catch (e) {
            if (controller.signal.aborted) {
                return; // the page's stores changed: a new stream replaces this one
            }
            live.failures += 1;
            retry = Math.min(1000 * Math.pow(2, live.failures), 30000);
        }
        if (live.abort === controller) {
            live.abort = null;
            setTimeout(function () {
                if (!live.abort) {
                    connect(true);
                }
            }, retry);
        }
    }

    /* (Re)subscribe when the stores on the page change, or when `force`d (a stream ended). */
    function connect(force) {
        var reduxStore = window.store;
        if (!reduxStore || !window.dash_component_api || live.ids === "off" || !setProps) {
            return;
        }
        var paths = reduxStore.getState().paths;
        var hot = jobsRunning();
        var active = !live.abort && completed() !== live.completed;
        if (!paths || (paths === live.paths && hot === live.hot && !active && !force)) {
            return;
        }
        // a job started or ended, or (between asks) a callback of the page ran: ask now
        force = force || hot !== live.hot || active;
        live.paths = paths;
        live.hot = hot;
        var stores = shownStores(paths);
        var ids = JSON.stringify(
            stores
                .map(function (s) {
                    return JSON.stringify(s.id);
                })
                .sort()
        );
        if (ids === live.ids && !force && (live.abort || ids === "[]")) {
            return;
        }
        live.ids = ids;
        if (live.abort) {
            live.abort.abort();
            live.abort = null;
        }
        if (stores.length) {
            listen(stores);
        }
    }

    setInterval(function () {
        connect(false);
    }, 500);

    var current = install(window.dash_clientside || {});
    Object.defineProperty(window, "dash_clientside", {
        configurable: true,
        get: function () {
            return current;
        },
        set: function (obj) {
            current = install(obj);
        },
    });
})();
