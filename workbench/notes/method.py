"""The three-pass method, the five Cs and the note's fields, as data the app, the notes, the CLI
and the handout share.

Sources: S. Keshav, "How to Read a Paper" (2016, `shared/pdfs/keshav_how_to_read_a_paper.pdf`)
and the course's lecture notes ("Reading papers": first pass 10-15 min, answer the five Cs;
second pass 1 hour, figures and references; third pass a virtual re-implementation, 1 to 4-5
hours). Where the two differ on a time budget, the range covers both: Keshav gives five to ten
minutes for pass 1, the lecture 10-15, so the budget is 5-15 minutes.

`pass_material(paper)` is the extension point for what the Read page shows beside a pass's
checklist: today the catalog's metadata and abstract; `workbench.pdf.document` adds the extracted parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import WorkbenchError
from workbench.safetext import md_literal, safe_url


class InvalidPass(WorkbenchError, ValueError):
    """A pass number other than 1, 2 or 3."""


@dataclass(frozen=True)
class ChecklistItem:
    key: str   # stable slug stored in the note file; never rename one that has shipped
    text: str


@dataclass(frozen=True)
class ReadingPass:
    number: int
    name: str
    goal: str
    budget_minutes: tuple[int, int]  # (low, high); equal when the sources give one figure
    checklist: tuple[ChecklistItem, ...]
    outcome: str  # what the reader can do at the end of the pass

    @property
    def budget_label(self) -> str:
        lo, hi = self.budget_minutes
        if hi >= 120:
            return f"{lo // 60}–{hi // 60} h" if lo % 60 == 0 else f"{lo} min – {hi // 60} h"
        if lo == hi:
            return f"about {hi // 60} h" if hi % 60 == 0 else f"about {hi} min"
        return f"{lo}–{hi} min"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.checklist)


@dataclass(frozen=True)
class FiveC:
    key: str
    name: str
    question: str


PASSES: tuple[ReadingPass, ...] = (
    ReadingPass(
        number=1,
        name="Bird's-eye view",
        goal="A quick scan to get the general idea of the paper and decide whether to read "
             "further.",
        budget_minutes=(5, 15),
        checklist=(
            ChecklistItem("title-abstract-intro",
                          "Carefully read the title, abstract and introduction"),
            ChecklistItem("headings",
                          "Read the section and sub-section headings, but ignore everything else"),
            ChecklistItem("math",
                          "Glance at the mathematical content to see the theoretical foundations"),
            ChecklistItem("conclusions", "Read the conclusions"),
            ChecklistItem("references",
                          "Glance over the references, ticking off the ones you have already read"),
        ),
        outcome="You can answer the five Cs, and may choose not to read further.",
    ),
    ReadingPass(
        number=2,
        name="Grasp the content",
        goal="Read with greater care, ignoring details such as proofs; jot down key points, "
             "terms you did not understand and questions for the authors.",
        budget_minutes=(60, 60),
        checklist=(
            ChecklistItem("figures",
                          "Look carefully at the figures, diagrams and other illustrations"),
            ChecklistItem("graphs",
                          "Check the graphs: axes properly labelled? results with error bars? "
                          "conclusions statistically significant?"),
            ChecklistItem("key-points",
                          "Jot down the key points, unclear terms and questions for the authors"),
            ChecklistItem("unread-references",
                          "Mark relevant unread references for further reading"),
            ChecklistItem("summary",
                          "Summarize the main thrust, with supporting evidence, to someone else"),
        ),
        outcome="You can summarize the main thrust of the paper, with supporting evidence, to "
                "someone else.",
    ),
    ReadingPass(
        number=3,
        name="Virtual re-implementation",
        goal="Re-create the work making the same assumptions as the authors, and compare the "
             "re-creation with the paper to find its innovations, hidden failings and "
             "assumptions.",
        budget_minutes=(60, 300),
        checklist=(
            ChecklistItem("reimplement",
                          "Given the input, work out how you would approach it: virtually "
                          "re-implement the paper"),
            ChecklistItem("assumptions",
                          "Identify and challenge every assumption in every statement"),
            ChecklistItem("presentation",
                          "Think about how you yourself would present each idea"),
            ChecklistItem("reproduction",
                          "Compare with the reproduction: do the runs support the paper's "
                          "claims?"),
            ChecklistItem("weak-points",
                          "Pinpoint implicit assumptions, missing citations and issues with the "
                          "experimental or analytical techniques"),
            ChecklistItem("future-work", "Jot down ideas for future work"),
        ),
        outcome="You can reconstruct the entire structure of the paper from memory and name "
                "its strong and weak points.",
    ),
)

FIVE_CS: tuple[FiveC, ...] = (
    FiveC("category", "Category",
          "What type of paper is this? A measurement paper? An analysis of an existing system? "
          "A description of a research prototype?"),
    FiveC("context", "Context",
          "Which other papers is it related to? Which theoretical bases were used to analyze "
          "the problem?"),
    FiveC("correctness", "Correctness", "Do the assumptions appear to be valid?"),
    FiveC("contributions", "Contributions", "What are the paper's main contributions?"),
    FiveC("clarity", "Clarity", "Is the paper well written?"),
)


@dataclass(frozen=True)
class NoteField:
    """A field of a reading note, once for the Read page, the note file, the export, the handout."""

    key: str           # form and widget key: the `Note` attribute, `c_<five C>` or `p<n>_notes`
    label: str         # its name wherever a reader sees it (page, export, handout, messages)
    pass_number: int   # the pass it is written in
    heading: str | None  # its `## Heading` in the note file, None for a front-matter list;
                         # never rename one that has shipped: old files would lose the text
    prompt: str = ""   # what to write, shown after the label on the Read page and in the export
    height: int = 100  # the Read page's text area, in pixels
    is_list: bool = False  # one item a line in the form, a YAML list in the front matter

    @property
    def title(self) -> str:
        """'Summary: the main thrust, ...', or the label alone when there is no prompt."""
        return f"{self.label}: {self.prompt}" if self.prompt else self.label


def _pass_notes(number: int) -> NoteField:
    return NoteField(f"p{number}_notes", f"Pass {number} notes", number, f"Pass {number} notes",
                     "key points, terms you did not understand, questions for the authors", 150)


# every field in pass order, the pass's free notes first; the note file's body keeps this order
NOTE_FIELDS: tuple[NoteField, ...] = (
    _pass_notes(1),
    *(NoteField(f"c_{c.key}", c.name, 1, c.name, c.question, 80) for c in FIVE_CS),
    _pass_notes(2),
    NoteField("summary", "Summary", 2, "Summary",
              "the main thrust, with supporting evidence, for someone else", 150),
    NoteField("figures", "Figures and graphs", 2, "Figures and graphs",
              "axes labelled? error bars? significant?"),
    NoteField("references_next", "References to read next", 2, None, "paper ids or titles",
              is_list=True),
    _pass_notes(3),
    NoteField("assumptions", "Assumptions challenged", 3, "Assumptions challenged", height=120),
    NoteField("differently", "What I would do differently", 3, "What I would do differently",
              height=120),
    NoteField("future_work", "Ideas for future work", 3, "Future work"),
    NoteField("runs_consulted", "Reproduction runs consulted", 3, None, "run ids", 80,
              is_list=True),
)


def note_field(key: str) -> NoteField:
    """The field with this form key ('summary', 'c_category', 'p2_notes'); KeyError if none."""
    for f in NOTE_FIELDS:
        if f.key == key:
            return f
    raise KeyError(key)


def pass_fields(number: int) -> tuple[NoteField, ...]:
    """The fields written in pass `number`, its free notes first."""
    return tuple(f for f in NOTE_FIELDS if f.pass_number == get_pass(number).number)


def get_pass(number: object) -> ReadingPass:
    """The pass with this number (1, 2 or 3), else `InvalidPass`."""
    if isinstance(number, bool) or number not in (1, 2, 3):
        raise InvalidPass(f"pass must be 1, 2 or 3, got {number!r}")
    return PASSES[int(number) - 1]  # type: ignore[call-overload]


def budget_state(reading_pass: ReadingPass, minutes: float) -> str:
    """'under', 'within' or 'over' the pass's time budget (low <= minutes <= high is within)."""
    lo, hi = reading_pass.budget_minutes
    if minutes > hi:
        return "over"
    return "within" if minutes >= lo else "under"


# --- what to read in each pass ------------------------------------------------------------------


@dataclass(frozen=True)
class Material:
    title: str
    text: str     # Markdown
    source: str   # where it came from: "catalog" today, "pdf" once workbench.pdf.document adds parts


def paper_links(paper) -> list[str]:
    """Markdown links to the paper's arXiv page, DOI and `url:`, only those that are http(s)
    (a catalog `url: "javascript:..."` gives no link at all)."""
    return [f"[{md_literal(label)}]({safe_url(url)})" for label, url in (
        (f"arXiv:{paper.arxiv}", paper.arxiv_url), (f"doi:{paper.doi}", paper.doi_url),
        ("link", paper.url)) if safe_url(url)]


def pass_material(paper, pass_number: int = 1, workspace=None) -> list[Material]:
    """What the Read page shows beside the checklist of `pass_number` for `paper`.

    `paper` is a `workbench.catalog.model.Paper`. Today: its metadata and the catalog abstract (the
    parts pass 1 starts with). Extension point for `workbench.pdf.document`: append the extracted parts
    (section headings and conclusions for pass 1, figures with captions and references for
    pass 2) when `workspace` holds the paper's PDF; keep the catalog parts as the fallback.
    """
    get_pass(pass_number)
    # catalog text goes in as literal text and links only to http(s): an abstract holding
    # `![t](http://host/x)` must not make the page fetch anything
    meta = [f"**{md_literal(', '.join(paper.authors))}**",
            md_literal(paper.venue or "venue unknown"), str(paper.year)]
    parts = [Material("Paper", " · ".join(meta + paper_links(paper)), "catalog")]
    parts.append(Material("Abstract", md_literal(paper.abstract) if paper.abstract
                          else "_No abstract in the catalog._", "catalog"))
    return parts
