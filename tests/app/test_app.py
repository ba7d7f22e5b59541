"""The app shell: every page renders from the entrypoint; the Library filters; errors are boxes."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, open_page, page_files


def table_titles(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["title"])


def test_library_is_the_default_page_and_lists_the_catalog(workspace):
    from workbench.catalog import validate as catalog

    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Library"
    cat = catalog.load(workspace.catalog_path)
    assert len(table_titles(at)) == len(cat)


def test_library_filters_change_the_table(workspace):
    from workbench.catalog import validate as catalog

    cat = catalog.load(workspace.catalog_path)
    at = open_page()
    at.multiselect(key="f_topic").set_value(["cnns"]).run()
    titles = table_titles(at)
    assert titles == [p.title for p in cat.in_topic("cnns")]
    at.text_input(key="f_query").set_value("residual").run()
    titles = table_titles(at)
    assert titles and all(
        "residual" in (p.title + " ".join(p.authors) + (p.abstract or "")).lower()
        for p in cat.papers if p.title in titles)
    assert "Deep Residual Learning for Image Recognition" in titles
    at.multiselect(key="f_topic").set_value([]).run()
    at.text_input(key="f_query").set_value("").run()
    at.slider(key="f_year").set_value((2017, 2017)).run()
    assert set(table_titles(at)) == {p.title for p in cat.papers if p.year == 2017}


@pytest.mark.parametrize("page", page_files(), ids=lambda name: name.removesuffix(".py"))
def test_every_page_renders_from_the_entrypoint(workspace, page):
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]


def test_paper_page_deep_link_shows_fields_links_and_catalog_edges(workspace):
    at = open_page("paper.py", paper="vit")
    assert not at.exception
    assert at.title[0].value == "An Image is Worth 16x16 Words: Transformers for Image " \
        "Recognition at Scale"
    md = " ".join(m.value for m in at.markdown)
    assert "https://arxiv.org/abs/2010.11929" in md
    at.session_state["builds_on_vit"] = True  # past the first 8: open "more papers it builds on"
    at.session_state["cited_by_vit"] = True
    at.run()
    links = {link.proto.query_string for link in at.page_link if link.proto.page == "paper"}
    assert "paper=transformer" in links  # builds on the Transformer (a same-tab link)
    assert "paper=clip" in links  # cited by CLIP


def test_invalid_catalog_shows_every_problem_in_an_error_box(workspace):
    path = workspace.catalog_path
    path.write_text(path.read_text().replace("topic: cnns", "topic: cnn", 2))
    for page in page_files():
        at = open_page(page)
        assert not at.exception, page
        assert at.error, page
        assert "unknown topic 'cnn'" in at.error[0].value


def test_the_chosen_paper_follows_the_reader_through_the_sidebar(workspace):
    at = open_page("paper.py", paper="resnet")
    assert at.title[0].value == "Deep Residual Learning for Image Recognition"
    at.query_params.clear()  # the sidebar navigation drops ?paper=
    at.switch_page(str(APP / "views" / "read.py")).run()
    assert not at.exception
    assert at.selectbox(key="read_paper").value == "resnet"
