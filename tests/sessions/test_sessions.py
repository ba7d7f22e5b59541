"""Sessions: sessions/<slug>.yaml written by the app or by hand, validated with one-line typed
errors, saved atomically without losing a hand edit."""

from __future__ import annotations

from datetime import date

import pytest

from workbench.catalog import validate as catalog
from workbench.errors import InvalidId, WorkbenchError
from workbench.sessions import plan as sessions


@pytest.fixture
def cat(workspace):
    return catalog.load(workspace.catalog_path)


def write(workspace, slug: str, text: str):
    workspace.sessions_dir.mkdir(exist_ok=True)
    path = workspace.sessions_dir / f"{slug}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_saved_session_loads_back_equal(workspace, cat):
    s = sessions.Session("week-6", "Week 6: residuals & attention", date(2025, 3, 10),
                         ("resnet", "transformer", "vit"),
                         {"resnet": ("Alice Martin", "Bob Chen"), "vit": ("Łucja Nowak",)})
    version = sessions.save_session(workspace, s, None, cat)
    loaded, loaded_version = sessions.load_session(workspace, "week-6", cat)
    assert loaded == s and loaded_version == version
    text = (workspace.sessions_dir / "week-6.yaml").read_text(encoding="utf-8")
    assert text.startswith("title: 'Week 6: residuals & attention'\ndate: 2025-03-10\n")
    assert "Łucja Nowak" in text  # written as UTF-8, not escaped
    assert sessions.list_sessions(workspace) == ["week-6"]


def test_a_hand_written_session_is_read_as_intended(workspace, cat):
    write(workspace, "reading-group", """\
# planned in the lecture
title: Reading group
date: "2025-04-01"
papers:
  - vit
  - resnet
presenters:
  vit: Alice, Bob   # a comma-separated string works too
  resnet:
""")
    s, _ = sessions.load_session(workspace, "reading-group", cat)
    assert (s.title, s.date, s.papers) == ("Reading group", date(2025, 4, 1), ("vit", "resnet"))
    assert dict(s.presenters) == {"vit": ("Alice", "Bob")}
    assert s.presenters_of("resnet") == ()


@pytest.mark.parametrize("text, message", [
    ("title: T\npapers: [resnt]\n", "paper 'resnt' is not in the catalog (did you mean 'resnet'?)"),
    ("title: T\npapers: resnet\n", "papers must be a list, e.g. papers: [resnet]"),
    ("title: T\npapers: []\n", "list the papers in presentation order"),
    ("title: T\npapers: [resnet, resnet]\n", "paper 'resnet' is listed twice"),
    ("title: T\npapers: [../etc]\n", "paper #1 '../etc' is not a paper id"),
    ("title: T\npapers: [resnet]\npresenters: {vit: Ann}\n",
     "presenters name 'vit', which is not among the session's papers"),
    ("title: T\npapers: [resnet]\npresenters: [Ann]\n", "presenters must map paper ids to names"),
    ("title: T\npapers: [resnet]\npresenters: {resnet: 3}\n", "must be a name or a list of names"),
    ("title: T\ndate: next week\npapers: [resnet]\n", "date 'next week' is not a date like"),
    ("papers: [resnet]\n", "give the session a title"),
    ("title: T\npaper: [resnet]\n", "unknown key 'paper' (did you mean 'papers'?)"),
    ("- just\n- a list\n", "must be a mapping"),
    ("title: [unclosed\n", "sessions/s.yaml:2: not valid YAML"),
    ("title: !!python/object:os.system x\npapers: [resnet]\n", "not valid YAML"),
])
def test_malformed_sessions_raise_one_line_errors_naming_the_file(workspace, cat, text, message):
    write(workspace, "s", text)
    with pytest.raises(sessions.SessionInvalid) as info:
        sessions.load_session(workspace, "s", cat)
    assert message in str(info.value)
    assert str(info.value).startswith("sessions/s.yaml")
    assert "\n" not in str(info.value)


def test_session_names_are_slugs_before_they_become_paths(workspace, cat):
    for bad in ("../papers", "Week 6", "a/b", "x" * 81):
        with pytest.raises(InvalidId):
            sessions.load_session(workspace, bad, cat)
        with pytest.raises(sessions.SessionInvalid, match="not a slug|characters long"):
            sessions.save_session(workspace, sessions.Session(bad, "T", None, ("resnet",)), None,
                                  cat)
    assert not workspace.sessions_dir.exists()


def test_missing_session_suggests_the_closest_name(workspace, cat):
    sessions.save_session(workspace, sessions.Session("week-6", "T", None, ("resnet",)), None)
    with pytest.raises(sessions.SessionNotFound, match="did you mean 'week-6'"):
        sessions.load_session(workspace, "week-5", cat)


def test_save_refuses_to_overwrite_a_hand_edit(workspace, cat):
    s = sessions.Session("week-6", "Week 6", None, ("resnet",))
    version = sessions.save_session(workspace, s, None, cat)
    path = workspace.sessions_dir / "week-6.yaml"
    hand_edit = path.read_text() + "# presenters decided in class\n"
    path.write_text(hand_edit)
    with pytest.raises(sessions.SessionConflict, match="changed on disk after you opened it"):
        sessions.save_session(workspace, s, version, cat)
    assert path.read_text() == hand_edit
    _, fresh = sessions.load_session(workspace, "week-6", cat)
    sessions.save_session(workspace, s, fresh, cat)  # after a reload it saves


def test_a_new_session_never_overwrites_an_existing_one(workspace, cat):
    sessions.save_session(workspace, sessions.Session("week-6", "First", None, ("resnet",)),
                          None, cat)
    with pytest.raises(sessions.SessionConflict, match="already exists"):
        sessions.save_session(workspace, sessions.Session("week-6", "Second", None, ("vit",)),
                              None, cat)
    assert sessions.load_session(workspace, "week-6", cat)[0].title == "First"


def test_save_validates_against_the_catalog_and_writes_nothing_on_error(workspace, cat):
    with pytest.raises(sessions.SessionInvalid, match="'nope' is not in the catalog"):
        sessions.save_session(workspace, sessions.Session("s", "T", None, ("nope",)), None, cat)
    assert sessions.list_sessions(workspace) == []


def test_unreadable_session_files_give_typed_errors(workspace, cat):
    workspace.sessions_dir.mkdir()
    (workspace.sessions_dir / "latin.yaml").write_bytes("title: Caf\xe9".encode("latin-1"))
    with pytest.raises(sessions.SessionInvalid, match="not UTF-8"):
        sessions.load_session(workspace, "latin", cat)
    (workspace.sessions_dir / "huge.yaml").write_bytes(b"#" * 300_000)
    with pytest.raises(sessions.SessionInvalid, match="is it a session file"):
        sessions.load_session(workspace, "huge", cat)
    (workspace.sessions_dir / "empty.yaml").write_bytes(b"")
    with pytest.raises(sessions.SessionInvalid, match="give the session a title"):
        sessions.load_session(workspace, "empty", cat)
    assert all(issubclass(e, WorkbenchError) for e in (sessions.SessionInvalid,
                                                      sessions.SessionConflict,
                                                      sessions.SessionNotFound))


def test_list_sessions_ignores_files_that_are_not_sessions(workspace):
    workspace.sessions_dir.mkdir()
    for name in ("b-week.yaml", "a-week.yaml", "Notes.yaml", "x.yml", ".hidden.yaml"):
        (workspace.sessions_dir / name).write_text("title: T\npapers: [resnet]\n")
    assert sessions.list_sessions(workspace) == ["a-week", "b-week"]


def test_form_values_become_a_validated_session(cat):
    s = sessions.form_session("week-6", "  Week   6 ", date(2025, 3, 10), ["vit", "resnet"],
                              {"vit": " Alice ,Bob,, Alice", "resnet": ""}, cat)
    assert (s.title, s.papers, dict(s.presenters)) == ("Week 6", ("vit", "resnet"),
                                                       {"vit": ("Alice", "Bob")})
    with pytest.raises(sessions.SessionInvalid, match="session 'week-6': give the session a "
                                                      "title"):
        sessions.form_session("week-6", " ", None, ["vit"], {}, cat)
    assert sessions.suggest_slug("Week 6: Residuals!", date(2025, 3, 10)) == \
        "2025-03-10-week-6-residuals"


def test_finding_papers_matches_exact_text_of_a_title_an_author_or_an_id(cat):
    found = lambda q, exclude=(): [p.id for p in sessions.find_papers(cat, q, exclude)]  # noqa: E731
    assert found("Simonyan") == found("  simonYAN ") == ["vgg"]  # not Hinton & Salakhutdinov
    assert found("Reducing the   dimensionality") == ["autoencoder"]
    assert found("mask-rcnn") == ["mask-rcnn"]
    assert found("Simonyan", exclude=["vgg"]) == [] and found("   ") == []
    assert found("Simonian") == []  # a near miss is no match
