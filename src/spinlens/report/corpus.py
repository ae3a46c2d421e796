"""The corpus report: one standalone HTML page of plots and tables answering "who uses which techniques, and when".

`render_summary` draws the page from a `stats.CorpusSummary` (plain rows, no database); `render_corpus` and
`write_corpus_report` first compute that summary from a store. Techniques are shown by their display names.

Plots are drawn with matplotlib as inline SVG (glyphs as paths: no fonts, no scripts, nothing fetched), so the
page opens anywhere, offline, under a Content-Security-Policy that forbids scripts. Outlet names, titles and
phrases come from the corpus and are untrusted: HTML escapes them, and labels given to matplotlib have their
mathtext ``$`` escaped.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spinlens import taxonomy
from spinlens.store import Store
from spinlens.store import stats as st

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:.5rem 0}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.meta{color:#555}.note{color:#666;font-size:13px}
figure{margin:.5rem 0}svg{max-width:100%;height:auto}.sw{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:4px;vertical-align:middle}
td.n{white-space:nowrap}p,li,td{overflow-wrap:break-word}
@media (max-width:700px){body{margin:1rem auto;padding:0 .6rem}table{display:block;max-width:100%;overflow-x:auto}
td a{display:inline-block;min-width:12rem}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _label(text: object, width: int = 28) -> str:
    """A matplotlib-safe label: '$' would start mathtext; long names are cut."""
    s = str(text)
    s = s if len(s) <= width else s[: width - 1] + "…"
    return s.replace("$", r"\$")


def _name(technique: str) -> str:
    """A technique's display name as a plot label (never cut: the longest is 38 characters)."""
    return _label(taxonomy.display_name(technique), 40)


def _svg(fig) -> str:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(width, height), dpi=100)


MIN_DOCUMENTS = 5  # an outlet or month with fewer articles is neither listed nor plotted: too noisy


@dataclass(frozen=True)
class TableLimits:
    """How much of a large corpus the tables show: 308 outlets of one or two articles each are no table to read."""

    min_articles: int = MIN_DOCUMENTS  # outlets (and months) with fewer articles are left out, and counted
    top_outlets: int = 30  # the outlets with the most articles, in the outlet table


_WRAP = 'style="max-width:16rem;overflow-wrap:anywhere"'  # a long outlet name wraps instead of pushing numbers off


def _rate(r: dict, key: str = "spans_per_1000_words") -> str:
    """A rate with its count beside it, and its 95% interval when the group is small."""
    text = f"{r[key]:g}"
    if f"{key}_low" in r and r.get("documents", st.SMALL) < st.SMALL:
        text += f" <span class=note>({r[key + '_low']:g}&ndash;{r[key + '_high']:g})</span>"
    return text


def outlet_heatmap(rows: list[dict], max_outlets: int = 20) -> str:
    rows = sorted(rows, key=lambda r: -r["documents"])[:max_outlets]
    techniques = [t.name for t in taxonomy.techniques("ptc14")]
    values = [[r[f"{t}_per_1000_words"] for r in rows] for t in techniques]
    fig = _figure(1.6 + 0.75 * max(3, len(rows)), 6.2)
    ax = fig.add_subplot()
    image = ax.imshow(values, aspect="auto", cmap="OrRd")
    ax.set_xticks(range(len(rows)), [_label(r["outlet"]) for r in rows], rotation=35, ha="right")
    ax.set_yticks(range(len(techniques)), [_name(t) for t in techniques])
    top = max((v for row in values for v in row), default=0) or 1
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v:
                ax.text(
                    j, i, f"{v:.1f}", ha="center", va="center", fontsize=7, color="white" if v > top / 2 else "black"
                )
    fig.colorbar(image, ax=ax, label="spans per 1,000 words", shrink=0.8)
    ax.set_title("Techniques per outlet (spans per 1,000 words)")
    return _svg(fig)


def month_lines(rows: list[dict], techniques: list[str], every: str = "month") -> str:
    rows = [r for r in rows if r[every] != st.UNKNOWN]
    fig = _figure(10, 4)
    ax = fig.add_subplot()
    months = [r[every] for r in rows]
    ax.plot(months, [r["spans_per_1000_words"] for r in rows], color="#222", linewidth=2.2, label="all techniques")
    for t in techniques:
        colour = taxonomy.get(t).colour
        ax.plot(months, [r[f"{t}_per_1000_words"] for r in rows], color=colour, linewidth=1.4, label=_name(t))
    ax.set_ylabel("spans per 1,000 words")
    ax.set_title(
        f"Techniques over time (by {every} of publication{'; weeks start on Monday' if every == 'week' else ''})"
    )
    step = max(1, len(months) // 18)
    ax.set_xticks(range(0, len(months), step), months[::step], rotation=45, ha="right")
    ax.legend(fontsize=8, ncols=2, frameon=False)
    ax.grid(alpha=0.3)
    return _svg(fig)


def outlet_month_lines(rows: list[dict], max_outlets: int = 8, every: str = "month") -> str:
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["outlet"]] = totals.get(r["outlet"], 0) + r["documents"]
    outlets = sorted(totals, key=lambda o: -totals[o])[:max_outlets]
    months = sorted({r[every] for r in rows})
    fig = _figure(10, 4)
    ax = fig.add_subplot()
    for outlet in outlets:
        points = {r[every]: r["spans_per_1000_words"] for r in rows if r["outlet"] == outlet}
        ax.plot(
            [months.index(m) for m in months if m in points],
            [points[m] for m in months if m in points],
            marker="o",
            markersize=3,
            linewidth=1.5,
            label=_label(outlet),
        )
    step = max(1, len(months) // 18)
    ax.set_xticks(range(0, len(months), step), months[::step], rotation=45, ha="right")
    ax.set_ylabel("spans per 1,000 words")
    ax.set_title("Each outlet over time: all techniques")
    ax.legend(fontsize=8, ncols=2, frameon=False)
    ax.grid(alpha=0.3)
    return _svg(fig)


def training_bars(rows: list[dict]) -> str:
    fig = _figure(10, 4.2)
    ax = fig.add_subplot()
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["corpus_share"] for r in rows], width=0.4, label="this corpus (predicted)")
    ax.bar(
        [i + 0.2 for i in x], [r["training_share"] or 0 for r in rows], width=0.4, label="PTC train (gold)", alpha=0.7
    )
    ax.set_xticks(list(x), [_name(r["technique"]) for r in rows], rotation=40, ha="right")
    ax.set_ylabel("share of all spans")
    ax.set_title("Mix of techniques: this corpus against the training data")
    ax.legend(frameon=False)
    return _svg(fig)


def _table(rows: list[dict], columns: list[tuple[str, str]], cell: Callable[[dict, str], str] | None = None) -> str:
    head = "".join(f'<th class="{"n" if k.startswith("#") else ""}">{_e(title)}</th>' for k, title in columns)
    body = []
    for r in rows:
        cells = []
        for key, _ in columns:
            k = key.lstrip("#")
            content = cell(r, k) if cell else None
            cells.append(
                f'<td class="{"n" if key.startswith("#") else ""}">{content if content else _e(r.get(k))}</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _narratives_and_languages(summary: st.CorpusSummary) -> str:
    """The "narratives repeated" section (when the corpus was matched against catalogues) and the languages."""

    def claim_cell(r: dict, key: str) -> str:
        if key == "claim":
            url = str(r.get("url") or "")
            if url.startswith(("http://", "https://")):
                return f'<a href="{_e(url)}" rel="noreferrer">{_e(r["claim"])}</a>'
        return ""

    parts = ["<h2>Narratives repeated</h2>"]
    if summary.narratives:
        parts.append(
            _table(
                summary.narratives,
                [
                    ("claim", "known claim (linked to its debunk)"),
                    ("catalogue", "catalogue"),
                    ("#documents", "articles"),
                    ("#outlets", "outlets"),
                    ("first_month", "first"),
                    ("last_month", "last"),
                ],
                claim_cell,
            )
        )
        parts.append("<p class=note>Per outlet and month: <code>spinlens stats --by narrative</code>.</p>")
    else:
        parts.append(
            "<p>No known claim matched: the corpus was analysed without a catalogue, or none of its sentences repeats "
            "one (<code>spinlens batch --catalogue NAME</code>).</p>"
        )
    other = [r for r in summary.languages if r["documents"] > r["analysed_for_techniques"]]
    if other:
        parts.append(
            "<h2>Languages</h2><p class=note>Technique spans are English-only: the numbers above leave out "
            "texts in other languages (their narratives are counted).</p>"
        )
        parts.append(
            _table(
                summary.languages,
                [("name", "language"), ("#documents", "articles"), ("#analysed_for_techniques", "read for techniques")],
            )
        )
    return "".join(parts)


def render_summary(
    summary: st.CorpusSummary,
    article_link: Callable[[int], str] | None = None,
    limits: TableLimits | None = None,
) -> str:
    """The report page of a `CorpusSummary`. ``article_link(analysis_id)`` gives the href of an article's
    highlighted view (no link without it); ``limits``: which outlets and months the tables and plots show."""
    limits = limits or TableLimits()
    least = limits.min_articles
    scope, info, months, techniques = summary.scope, summary.overview, summary.months, summary.techniques
    outlets, phrases, dense, compare = summary.outlets, summary.phrases, summary.densest, summary.against_training
    outlet_months = [r for r in summary.outlet_months if r["documents"] >= least]
    top_techniques = [r["technique"] for r in techniques if r["spans"]][:5]

    def article_cell(r: dict, key: str) -> str:
        corrected = " <small>(corrected)</small>" if r.get("corrected") else ""
        if key == "title" and article_link:
            return f'<a href="{_e(article_link(r["analysis_id"]))}">{_e(r["title"])}</a>{corrected}'
        if key == "url" and r.get("url"):
            url = str(r["url"])
            return f'<a href="{_e(url)}" rel="noreferrer">source</a>' if url.startswith(("http://", "https://")) else ""
        return ""

    def technique_cell(r: dict, key: str) -> str:
        if key == "share_of_documents":
            low, high = r.get("share_of_documents_low"), r.get("share_of_documents_high")
            interval = (
                f" <span class=note>({low:.0%}&ndash;{high:.0%})</span>"
                if low is not None and r.get("documents", st.SMALL) < st.SMALL
                else ""
            )
            total = f" of {r['documents']:,}" if "documents" in r else ""
            return f"{r[key]:.1%} ({r['documents_with_spans']:,}{total}){interval}"
        return _e(taxonomy.display_name(r[key])) if key == "technique" else ""

    def outlet_cell(r: dict, key: str) -> str:
        if key == "outlet":
            return f"<span {_WRAP}>{_e(r[key])}</span>"
        if key == "spans_per_1000_words":
            return _rate(r)
        if key == "share_with_spans" and key in r:
            return f"{r[key]:.0%} ({r['documents_with_spans']:,})"
        return ""

    def phrase_cell(r: dict, key: str) -> str:
        if key in ("top_outlets", "targets"):
            return _e(", ".join(r[key])) or "&ndash;"
        if key == "technique":
            colour = taxonomy.get(r[key]).colour
            return f'<span class="sw" style="background:{colour}"></span>{_e(taxonomy.display_name(r[key]))}'
        return ""

    every = summary.every
    dated = [r for r in months if r[every] != st.UNKNOWN and r["documents"] >= least]
    undated = sum(r["documents"] for r in months if r[every] == st.UNKNOWN)
    sparse = sum(r["documents"] for r in months if r[every] != st.UNKNOWN and r["documents"] < least)
    plotted_outlets = [r for r in outlets if r["documents"] >= least]
    # a small corpus (no outlet has the minimum yet) lists its outlets anyway, each rate with its interval
    eligible = plotted_outlets or outlets
    listed = sorted(eligible, key=lambda r: (-r["documents"], str(r["outlet"])))[: limits.top_outlets]
    few = [r for r in outlets if r["documents"] < least] if plotted_outlets else []
    outlet_note = (
        f"Listed: the {len(listed):,} outlets with the most articles, of {len(eligible):,}"
        + (f" with at least {least} articles" if plotted_outlets else "")
        + (
            f"; {len(few):,} outlets with fewer ({sum(r['documents'] for r in few):,} articles) are left out"
            if few
            else ""
        )
        + ". Every outlet: <code>spinlens stats --by outlet</code>. Rates are spans per "
        f"1,000 words; under {st.SMALL} articles, a 95% interval follows (in brackets). Syndicated: articles whose text "
        "another outlet also published."
    )
    parts = [
        "<h1>spinlens corpus report</h1><p class=meta>"
        + (f"<b>{_e(info['period'].capitalize())}.</b> " if info.get("period") else "")
        + f"{info['documents']:,} articles ({info['duplicates']:,} "
        f"duplicates of others; {info.get('syndicated', 0):,} syndicated: the same text in several outlets), "
        f"{info['words']:,} words, {info['outlets']:,} outlets"
        + (f", {_e(info['first_date'])} to {_e(info['last_date'])}" if info["first_date"] else "")
        + f". Model {_e(scope.model)} {_e(scope.version)}. {info['pending']:,} documents not analysed yet, "
        f"{info['failures']:,} inputs failed (<code>spinlens stats --by failure</code>)."
        + (
            f" {info['corrected']:,} analyses were corrected by people: they count as corrected (their spans, "
            "score and techniques as people left them)."
            if info.get("corrected")
            else ""
        )
        + "</p>",
        "<h2>Who uses which techniques</h2>",
        f"<figure>{outlet_heatmap(plotted_outlets)}</figure>"
        if plotted_outlets
        else f"<p>No outlet has {least} analysed articles yet: see the table.</p>",
        f"<p class=note>Plotted: the outlets with at least {least} articles (at most 20). {outlet_note}</p>",
        _table(
            listed,
            [
                ("outlet", "outlet"),
                ("#documents", "articles"),
                ("#syndicated", "syndicated"),
                ("#words", "words"),
                ("#spans", "spans"),
                ("#spans_per_1000_words", "per 1,000 words"),
                ("#share_with_spans", "articles with a span"),
                ("#mean_propaganda_score", "mean article score"),
            ],
            outlet_cell,
        ),
        "<h2>When</h2>",
        f"<figure>{month_lines(dated, top_techniques, every)}</figure>"
        if len(dated) >= 2
        else f"<p>Fewer than two {every}s with dated articles: nothing to plot over time.</p>",
        f"<figure>{outlet_month_lines(outlet_months, every=every)}</figure>"
        if len({r[every] for r in outlet_months}) >= 2
        else "",
        f"<p class=note>Left out of these plots: {undated:,} articles without a date and {sparse:,} in {every}s with fewer "
        f"than {least} articles.</p>"
        if undated or sparse
        else "",
        "<h2>Techniques</h2>",
        _table(
            techniques,
            [
                ("technique", "technique"),
                ("category", "category"),
                ("#spans", "spans"),
                ("#share_of_documents", "articles with a span of it"),
                ("#spans_per_1000_words", "per 1,000 words"),
                ("#mean_span_confidence", "mean confidence"),
            ],
            technique_cell,
        ),
        "<h2>Most frequent name-calling and loaded language</h2>",
        "<p class=note>Targets are a heuristic: the capitalised name inside the phrase, else the nearest one in its "
        "sentence.</p>",
        _table(
            phrases,
            [
                ("phrase", "phrase"),
                ("technique", "technique"),
                ("#count", "times"),
                ("#outlets", "outlets"),
                ("top_outlets", "used most by"),
                ("targets", "likely targets"),
            ],
            phrase_cell,
        ),
        "<h2>The most propaganda-dense articles</h2>",
        _table(
            dense,
            [
                ("title", "article"),
                ("outlet", "outlet"),
                ("date", "date"),
                ("#spans_per_100_words", "spans per 100 words"),
                ("#propaganda_score", "score"),
                ("url", ""),
            ],
            article_cell,
        ),
        _narratives_and_languages(summary),
        "<h2>This corpus against the training data</h2>",
        f"<figure>{training_bars(compare)}</figure>"
        if summary.has_training_profile
        else "<p>The model carries no training profile.</p>",
        "<p class=note>Differences are partly the corpus and partly the model: the corpus side is predicted, the "
        "training side is gold. Rates per 1,000 words: "
        + ", ".join(
            f"{_e(taxonomy.display_name(r['technique']))} {r['corpus_per_1000_words']} vs {r['training_per_1000_words']}"
            for r in compare[:6]
        )
        + ".</p>",
    ]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spinlens corpus report</title><style>{_CSS}</style></head>
<body>{"".join(parts)}</body></html>
"""


def render_corpus(
    store: Store,
    scope: st.Scope | None = None,
    training: dict | None = None,
    article_link: Callable[[int], str] | None = None,
    n_articles: int = 20,
    limits: TableLimits | None = None,
    every: str = "month",
) -> str:
    """The report page of the analyses in ``store`` (see `render_summary`), over time by ``every`` (day, week,
    month)."""
    return render_summary(st.summarize(store, scope, training, n_articles, every), article_link, limits)


def write_corpus_report(
    store: Store,
    output: str | Path,
    scope: st.Scope | None = None,
    training: dict | None = None,
    n_articles: int = 20,
    limits: TableLimits | None = None,
    every: str = "month",
) -> Path:
    """``output`` and, beside it, ``<name>-articles/<id>.html``: the highlighted pages the report links to."""
    from spinlens.report.html import render_analysis
    from spinlens.review.tables import load

    output = Path(output)
    summary = st.summarize(store, scope, training, n_articles, every)
    pages = output.with_name(output.stem + "-articles")
    pages.mkdir(parents=True, exist_ok=True)
    for row in summary.densest:
        reviewed = load(store, row["analysis_id"])  # as people left it
        if reviewed is not None:
            page = render_analysis(reviewed.model, reviewed)
            (pages / f"{row['analysis_id']}.html").write_text(page, encoding="utf-8")
    output.write_text(render_summary(summary, lambda i: f"{pages.name}/{i}.html", limits), encoding="utf-8")
    return output
