"""Serving a class (issue 16, item 16): no listening beyond this machine without sign-in; the
signed-in identity is the reader; only the runners list launches, cancels or resumes runs.

The CLI refusals run the real `workbench app`; the app's side runs in Streamlit's AppTest with
`st.user` set as a signed-in (or signed-out) browser would have it. The full login against a
local OpenID Connect provider, in Chromium, is tests/browser/test_auth.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP
from tests.runs_helpers import cached_descriptions, stop_everything, use_fake_child
from tests.workspaces import make_workspace
from workbench.app import serving
from workbench.cli import commands as cli
from workbench.errors import InvalidId, WorkbenchError
from workbench.notes.store import load_note
from workbench.runs import folders as runs
from workbench.runs import queue as run_queue

GOOD_AUTH = {
    "redirect_uri": "https://lab-pc.uni.example/oauth2callback",
    "cookie_secret": "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d",
    "client_id": "workbench",
    "client_secret": "s3cret",
    "server_metadata_url": "https://sso.uni.example/.well-known/openid-configuration",
}


def auth_toml(**changes) -> str:
    """An [auth] section: GOOD_AUTH with `changes` (None drops a key)."""
    values = {k: v for k, v in {**GOOD_AUTH, **changes}.items() if v is not None}
    return "[auth]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in values.items())


# (name, file bytes, what the one-line refusal says): every way a TA's auth file goes wrong
HOSTILE_AUTH_FILES = [
    ("not-toml", b"[auth\nclient_id = 1\n", "is not valid TOML"),
    ("not-utf8", b"[auth]\nclient_id = \"\xff\xfe\"\n", "is not valid TOML"),
    ("empty", b"", "has no [auth] section"),
    ("auth-is-a-string", b'auth = "yes"\n', "has no [auth] section"),
    ("no-client-secret", auth_toml(client_secret=None).encode(), "lacks client_secret"),
    ("client-id-a-number", auth_toml().replace('"workbench"', "5").encode(), "lacks client_id"),
    ("empty-metadata-url", auth_toml(server_metadata_url="").encode(),
     "lacks server_metadata_url"),
    ("redirect-elsewhere", auth_toml(redirect_uri="https://lab-pc/").encode(),
     "redirect_uri must end with /oauth2callback"),
    ("short-cookie-secret", auth_toml(cookie_secret="abc123").encode(),
     "cookie_secret has 6 characters"),
]


@pytest.fixture
def ws(make_ws, monkeypatch):
    """A workspace with the shipped catalog; the owner (who starts the app) is `ta`."""
    monkeypatch.delenv(serving.RUNNERS_ENV, raising=False)
    monkeypatch.delenv(serving.AUTH_ENV, raising=False)
    return make_ws(reader="ta")


@pytest.fixture
def runs_ws(ws, tmp_path, tmp_path_factory, monkeypatch):
    """`ws` with the reproductions' descriptions cached, and no run left behind."""
    make_workspace(ws.root, None, descriptions=cached_descriptions(tmp_path_factory),
                   monkeypatch=monkeypatch)
    use_fake_child(monkeypatch, tmp_path)
    yield ws
    stop_everything(ws)


@pytest.fixture
def auth_file(tmp_path):
    path = tmp_path / "secrets" / "auth.toml"  # beside the workspace, not inside it
    path.parent.mkdir()
    path.write_text(auth_toml())
    return path


@pytest.fixture
def no_app_start(monkeypatch):
    """A tripwire: a refused `workbench app` must never get as far as starting Streamlit."""
    def started(*args, **kwargs):
        raise AssertionError(f"the app was started: {args}")
    monkeypatch.setattr(subprocess, "call", started)


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


# --- the CLI: no sign-in, no listening beyond this machine --------------------------------------


def test_app_refuses_a_lan_address_without_sign_in_in_one_line(ws):
    """The real command, as a TA would type it: exit 1, one line, no traceback, no server."""
    env = {k: v for k, v in os.environ.items() if k != serving.AUTH_ENV}
    proc = subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(ws.root), "app",
                           "--address", "0.0.0.0", "--port", "1"], capture_output=True,
                          text=True, timeout=60, env=env, cwd=ws.root)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: refusing to listen on 0.0.0.0 without sign-in")
    assert "--auth FILE" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "", "192.168.1.20", "lab-pc.uni.example"])
def test_every_address_beyond_this_machine_needs_sign_in(ws, address, capsys, no_app_start):
    code, err = run_cli(capsys, "--workspace", str(ws.root), "app", "--address", address)
    assert code == 1 and err.startswith("error: refusing to listen") and err.count("\n") == 1


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.1.1", "::1", "localhost"])
def test_this_machine_only_needs_no_sign_in(ws, address):
    served = serving.serving(address, None, ws.root)
    assert served.auth_file is None and served.streamlit_args() == [] and served.env() == {}


@pytest.mark.parametrize("name,content,says", HOSTILE_AUTH_FILES,
                         ids=[c[0] for c in HOSTILE_AUTH_FILES])
def test_a_broken_auth_file_is_refused_in_one_line(ws, tmp_path, name, content, says, capsys,
                                                   no_app_start):
    path = tmp_path / f"{name}.toml"
    path.write_bytes(content)
    code, err = run_cli(capsys, "--workspace", str(ws.root), "app", "--address", "0.0.0.0",
                        "--auth", str(path))
    assert code == 1
    assert err.startswith(f"error: auth file {path}") and says in err
    assert err.count("\n") == 1


def test_an_auth_file_inside_the_workspace_is_refused(ws, capsys, no_app_start):
    """The workspace is shared with the students: its client secret would be too."""
    inside = ws.root / ".streamlit" / "secrets.toml"
    inside.parent.mkdir()
    inside.write_text(auth_toml())
    code, err = run_cli(capsys, "--workspace", str(ws.root), "app", "--address", "0.0.0.0",
                        "--auth", str(inside))
    assert code == 1 and "is inside the workspace" in err and err.count("\n") == 1


@pytest.mark.parametrize("where", ["missing.toml", "."])
def test_an_unreadable_auth_file_is_refused(ws, tmp_path, where, capsys, no_app_start):
    code, err = run_cli(capsys, "--workspace", str(ws.root), "app", "--address", "0.0.0.0",
                        "--auth", str(tmp_path / where))
    assert code == 1 and err.startswith("error: auth file") and err.count("\n") == 1


def test_a_good_auth_file_lets_the_app_listen_and_streamlit_reads_only_it(ws, auth_file,
                                                                          monkeypatch):
    monkeypatch.setenv(serving.AUTH_ENV, str(auth_file))  # the --auth default
    args = cli.build_parser().parse_args(["--workspace", str(ws.root), "app",
                                          "--address", "0.0.0.0"])
    served = serving.serving(args.address, args.auth, ws.root)
    assert served.streamlit_args() == ["--secrets.files", str(auth_file.resolve())]
    assert served.env() == {serving.AUTH_ENV: str(auth_file.resolve())}
    assert served.runners == {"ta"}  # the owner: the reader who starts the app


def test_a_bad_runners_list_is_refused_at_start(ws, auth_file, monkeypatch, capsys, no_app_start):
    monkeypatch.setenv(serving.RUNNERS_ENV, "ta,Bob/../x")
    code, err = run_cli(capsys, "--workspace", str(ws.root), "app", "--address", "0.0.0.0",
                        "--auth", str(auth_file))
    assert code == 1 and "$WORKBENCH_RUNNERS entry" in err and err.count("\n") == 1


# --- identity -> reader, and the runners policy ----------------------------------------------


@pytest.mark.parametrize("user,reader", [
    ({"email": "alice@uni.example", "sub": "x1"}, "alice"),
    ({"email": "Jane.Doe@uni.example", "email_verified": True}, "jane-doe"),
    ({"email": "jürgen_müller+ml@uni.example"}, "jurgen-muller-ml"),
    ({"email": "../../etc/passwd@uni.example"}, "etc-passwd"),
    ({"email": "a\nb@uni.example"}, "a-b"),
    ({"sub": "248289761001"}, "248289761001"),      # no email: the subject
    ({"email": "alice", "sub": "alice"}, "alice"),  # not an address: the subject
])
def test_the_signed_in_identity_becomes_a_safe_reader_slug(user, reader):
    assert serving.reader_from_identity(user) == reader


@pytest.mark.parametrize("user,says", [
    ({"email": "alice@uni.example", "email_verified": False}, "not verified"),
    ({"email": "日本@uni.example"}, "gives no reader name"),
    ({"email": "...@uni.example"}, "gives no reader name"),
    ({"email": "a" * 300 + "@uni.example"}, "300 characters long"),
    ({}, "neither an email nor a subject"),
    ({"sub": 12}, "neither an email nor a subject"),
])
def test_an_identity_that_gives_no_reader_is_one_typed_line(user, says):
    with pytest.raises(InvalidId, match=says) as err:
        serving.reader_from_identity(user)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_runners_default_to_the_workspace_owner(monkeypatch):
    monkeypatch.delenv(serving.RUNNERS_ENV, raising=False)
    monkeypatch.setenv("WORKBENCH_READER", "ta")
    assert serving.runners() == {"ta"}
    monkeypatch.setenv(serving.RUNNERS_ENV, " ta, bob ,,")
    assert serving.runners() == {"ta", "bob"}
    monkeypatch.setenv(serving.RUNNERS_ENV, "BOB")
    with pytest.raises(WorkbenchError, match="not a slug"):
        serving.runners()


# --- the app, with sign-in on -----------------------------------------------------------------


def open_app(user: dict, page: str | None = None, **query) -> AppTest:
    """A browser session on the app served with sign-in, as `user` (st.user's claims)."""
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=120)
    at.user = user
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(str(APP / "views" / page))
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


ALICE = {"is_logged_in": True, "email": "alice@uni.example", "sub": "a-1"}
TA = {"is_logged_in": True, "email": "ta@uni.example", "sub": "t-1"}


@pytest.fixture
def signed_in(ws, auth_file, monkeypatch):
    monkeypatch.setenv(serving.AUTH_ENV, str(auth_file))
    return ws


@pytest.mark.parametrize("page", [None, "read.py", "group.py", "reproduce.py", "add.py"])
def test_a_visitor_who_is_not_signed_in_sees_only_the_login(signed_in, page):
    at = open_app({"is_logged_in": False}, page, paper="resnet")
    assert [b.label for b in at.button] == ["Log in"]
    assert [t.value for t in at.title] == ["Paper workbench"]
    assert not at.text_input and not at.text_area and not at.selectbox
    assert not (signed_in.root / "notes").exists()


def test_a_signed_in_student_edits_only_their_own_notes(signed_in):
    at = open_app(ALICE, "read.py", paper="resnet")
    assert not at.sidebar.text_input, "the reader box is gone: the identity is the reader"
    assert any("Signed in as **alice**" in c.value for c in at.sidebar.caption)
    at.text_area(key="c_category").input("A new architecture.")
    at.button(key="save_note").click().run()
    assert not at.exception
    notes = sorted(p.relative_to(signed_in.root).as_posix()
                   for p in (signed_in.root / "notes").rglob("*.md"))
    assert notes == ["notes/resnet/alice.md"]  # not ta.md: $WORKBENCH_READER is the owner's
    assert load_note(signed_in, "resnet", "alice")[0].category == "A new architecture."


def test_an_identity_without_a_reader_name_gets_an_error_and_no_page(signed_in):
    at = open_app({"is_logged_in": True, "email": "日本@uni.example"}, "read.py", paper="resnet")
    assert len(at.error) == 1 and "gives no reader name" in at.error[0].value
    assert [b.label for b in at.button] == ["Log out"]
    assert not (signed_in.root / "notes").exists()


def test_a_student_outside_the_runners_list_cannot_start_a_run(signed_in, runs_ws):
    at = open_app(ALICE, "reproduce.py", paper="resnet")
    start = at.button(key="run_start")
    assert start.disabled
    assert any("only ta may start" in i.value for i in at.info)
    start.proto.disabled = False  # what a hand-crafted websocket message could send anyway
    start.click().run()
    assert not at.exception
    assert runs.list_runs(signed_in) == []


def test_the_runners_list_decides_who_may_start_runs(signed_in, runs_ws, monkeypatch):
    assert not open_app(TA, "reproduce.py", paper="resnet").button(key="run_start").disabled
    monkeypatch.setenv(serving.RUNNERS_ENV, "ta,alice")
    assert not open_app(ALICE, "reproduce.py", paper="resnet").button(key="run_start").disabled


def test_a_student_outside_the_runners_list_cannot_cancel_the_owners_run(signed_in, runs_ws,
                                                                          monkeypatch):
    monkeypatch.setenv("FAKE_STEP_S", "0.05")
    run = run_queue.submit(signed_in, "resnet", "tiny", ["steps=100000"])  # the TA's run
    at = open_app(ALICE, "reproduce.py", paper="resnet")  # the page starts it (pump)
    cancel = at.button(key="run_cancel")
    assert cancel.disabled
    cancel.proto.disabled = False  # a hand-crafted message
    cancel.click().run()
    assert not at.exception
    assert runs.get_run(signed_in, run.id).state in runs.ACTIVE
