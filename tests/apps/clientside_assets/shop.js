// Clientside functions of clientside_app.py, and a keyboard shortcut that sets a store.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    shop: {
        show: function (data) {
            return JSON.stringify(data);
        },
        first: function (value, user) {
            if (!value) {
                throw window.dash_clientside.PreventUpdate;
            }
            return Object.assign({}, user, {first_name: value});
        },
    },
});
document.addEventListener("keydown", function (event) {
    if (event.key === "k") {
        window.dash_clientside.set_props("s", {data: {n: 100, from: "key", 0: 1.0}});
    }
});
