"""What a background job trusts: the signed store references (`JobRef`) the web server puts in
its arguments, and nothing else. An attacker who can write to the broker (or the result
cache) can neither forge a reference to another session's store nor pass a browser token off
as one; a worker on the wrong backend says which one it needs."""

from __future__ import annotations

import pytest
from dash import Dash, Patch, html

import dash_stash
from dash_stash.adapter.background import JobCall, backend_id, backend_name, check_backend
from dash_stash.backends import StoreKey
from dash_stash.engine import Merge, Replace
from dash_stash.errors import StashError, TokenError
from dash_stash.tokens import JobRef, Signer, Token, job_namespace


def ref(version: int = 3) -> JobRef:
    token = Token("data", "memory", "page-abc", version, "", 60.0, "last-writer-wins", False)
    return JobRef("ns/", "sessionkey", token)


def test_a_job_ref_round_trips_and_names_its_app():
    signer = Signer("secret", "ns/")
    text = signer.sign_job(ref())
    assert signer.verify_job(text) == ref()
    assert job_namespace(text) == "ns/"


def test_an_edited_or_foreign_job_ref_is_refused():
    signer = Signer("secret", "ns/")
    text = signer.sign_job(ref())
    forged = Signer("secret", "ns/").sign_job(ref(4)).split(".")[1]
    edited = ".".join([text.split(".")[0], forged, text.split(".")[2]])
    with pytest.raises(TokenError):
        signer.verify_job(edited)  # another version, with the first one's signature
    with pytest.raises(TokenError):
        Signer("another secret", "ns/").verify_job(text)
    with pytest.raises(TokenError):
        Signer("secret", "other/").verify_job(text)  # another app's namespace


def test_browser_tokens_and_job_refs_are_not_interchangeable():
    signer = Signer("secret", "ns/")
    token = signer.sign(ref().token, "session-id")
    with pytest.raises(TokenError):
        signer.verify_job(token)
    with pytest.raises(TokenError):
        signer.verify(signer.sign_job(ref()), "session-id")


@pytest.fixture
def stash(tmp_path):
    app = Dash(__name__)
    app.layout = html.Div(dash_stash.Store(id="data", data={}))
    return dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db", "s3cret", namespace="jobs/")


def job_info(stash, **changes) -> dict:
    info = {
        "namespace": stash.namespace,
        "backend": backend_name(stash),
        "backend_id": backend_id(stash),
        "callback": "fill",
    }
    return {**info, **changes}


def test_a_worker_checks_the_backend_before_any_read(stash, tmp_path):
    check_backend(stash, job_info(stash))  # the same backend: no error
    other = f"sqlite:///{tmp_path}/web.db"
    with pytest.raises(StashError, match=f"the worker needs '{other}'"):
        check_backend(stash, job_info(stash, backend=other, backend_id="another"))
    assert backend_name(stash) == f"sqlite:///{tmp_path}/stash.db"  # as a worker must be told


def test_a_job_ref_signed_with_another_secret_reads_nothing(stash):
    call = JobCall(stash, "fill", 0, set(), info=job_info(stash))
    forged = Signer("not the app's secret", stash.namespace).sign_job(
        JobRef(stash.namespace, "victim-session-key", ref().token)
    )
    with pytest.raises(StashError, match="another secret"):
        call.read_all([forged])
    assert call.loaded == {}


def test_a_job_writing_a_store_it_read_again_and_again_keeps_another_writers_change(stash):
    """A job sends progress to the store it read, twice; between the two, a normal callback
    changes another key. Each job write merges from the job's own last write: the other
    change stays, and no row is doubled."""
    key = StoreKey(stash.namespace, "session-key", "page-x", "data")
    stash.engine.commit(key, Replace({"rows": [], "n": 0}), ttl=60)
    token = Token("data", "memory", "page-x", 1, "", 60.0, "last-writer-wins", False)
    text = stash.signer.sign_job(JobRef(stash.namespace, "session-key", token))
    call = JobCall(stash, "fill", 0, {"data"}, info=job_info(stash))
    call.add("data", text)
    read = call.read_all(text)
    out = {"id": "data", "property": "data"}
    call.write(out, {**read, "rows": ["r1"]})
    latest = stash.engine.read(key)[0]
    stash.engine.commit(  # the normal callback, from what it read
        key, Merge(lambda: latest, 2, {**latest, "n": 1}), ttl=60, writer="bump"
    )
    receipt = call.write(out, {**read, "rows": ["r1", "r2"]})
    assert stash.engine.read(key)[0] == {"rows": ["r1", "r2"], "n": 1}
    assert stash.signer.verify_job(receipt).token.version == 4


def test_a_job_patching_a_store_it_does_not_read_is_refused_and_writes_nothing(stash):
    """`set_props(store, {"data": Patch()})` in a job whose callback does not read the store:
    there is no tab to patch, so the job fails naming callback and store, and commits
    nothing (not a fresh instance holding only the patch)."""
    patch = Patch()
    patch.append("x")
    stash.own_layouts()  # a worker knows the stores of the app's layout
    call = JobCall(stash, "fill", 0, set(), info=job_info(stash, session="session-key"))
    with pytest.raises(StashError, match=r"background callback 'fill' patches store 'data'") as e:
        call.set_props("data", {"data": patch})
    assert "add State('data', 'data') to the callback" in str(e.value)
    assert call.located == {} and call.refs == {}  # no fresh instance was made for it
    assert [k for k in stash.engine.backend.keys(stash.namespace) if k.store_id == "data"] == []
