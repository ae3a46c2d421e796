"""A standalone HTML page for one analysis: the article with every span highlighted.

Given how people reviewed it (`spinlens.review.state.Reviewed`), the page shows the corrected state: spans a person
decided are outlined and say who decided what, the header says it was corrected, and a "Review" section gives the
model's own score and the spans people rejected.

Article text, titles and ids are untrusted: everything taken from the document passes through `html.escape`,
and the page carries a Content-Security-Policy that forbids scripts altogether: a passage's details open in CSS
only, on hover, on keyboard focus (each passage is in the Tab order) and on a tap (which focuses it). On a phone
(under 700 px) the page is one column and the details open as a sheet at the bottom of the screen.
"""

from __future__ import annotations

import html

from spinlens import taxonomy
from spinlens.corrections import CorrectedSpan
from spinlens.document import Analysis
from spinlens.formats.results import CONFIDENCE_HELP, review_line, summary
from spinlens.language import name as language_name
from spinlens.language import reads_techniques
from spinlens.review.state import Reviewed, decision
from spinlens.textutil import short_title

_CSS = """
body{font:16px/1.6 Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;display:grid;grid-template-columns:1fr 16rem;gap:2rem}
h1{font-size:1.4rem;grid-column:1/3;margin-bottom:0}.meta{grid-column:1/3;color:#666;font:13px sans-serif}
article{white-space:pre-wrap;overflow-wrap:anywhere}.s{position:relative;border-radius:2px;cursor:help}
.s .tip{display:none;position:absolute;left:0;top:1.6em;z-index:9;width:22rem;background:#fff;border:1px solid #999;
box-shadow:0 2px 8px #0003;padding:.5rem;font:13px/1.4 sans-serif;white-space:normal;color:#222}
.s:hover>.tip,.s:focus>.tip{display:block}.tip b{display:block}.tip p{margin:.2rem 0 .5rem}
.s:focus{outline:2px solid #1d3557;outline-offset:1px}h1,.meta{overflow-wrap:anywhere}
@media (max-width:700px){body{grid-template-columns:1fr;margin:1rem auto;gap:1rem}h1,.meta{grid-column:1}
.s{position:static}.s .tip{position:fixed;left:.5rem;right:.5rem;top:auto;bottom:.5rem;width:auto;max-height:45vh;overflow-y:auto}}
aside{font:13px sans-serif}aside table{border-collapse:collapse;width:100%}aside td{padding:2px 4px;border-bottom:1px solid #eee}
.sw{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;vertical-align:middle;margin-right:4px}
.n{outline:2px dotted #1f5fbf;outline-offset:1px}sup.nref{font:bold 11px sans-serif;color:#1f5fbf}
.notes{grid-column:1/3;background:#fff6d6;border:1px solid #e0c25a;padding:.4rem .8rem;font:14px sans-serif}
.claims li{margin-bottom:.6rem}.claims q{font-style:italic}
"""


def safe_url(url: str | None) -> str | None:
    """A link only to http(s): a catalogue row is untrusted, and ``javascript:`` would run in the reader's page."""
    return url if url and url.lower().startswith(("https://", "http://")) else None


def narratives_section(analysis: Analysis) -> str:
    """The known claims the text repeats: each matched passage, the claim, where it was debunked."""
    if not analysis.narratives:
        return ""
    text = analysis.document.text
    items = []
    for k, m in enumerate(_ordered_matches(analysis), start=1):
        url = safe_url(m.url)
        claim = _escape(m.title)
        if url:
            claim = f'<a href="{_escape(url)}" rel="noopener noreferrer">{claim}</a>'
        how = "states the claim" if m.relation == "states" else "shares its topic"
        items.append(
            f'<li id="claim-{k}"><q>{_escape(text[m.start : m.end][:400])}</q><br>{how}: {claim}'
            f" <small>({_escape(m.catalogue)}, {m.confidence:.0%} likely"
            + (f", {_escape(m.verdict)}" if m.verdict else "")
            + (f", {_escape(m.date)}" if m.date else "")
            + ")</small></li>"
        )
    return f'<h2>Known claims repeated</h2><ol class="claims">{"".join(items)}</ol>'


def _ordered_matches(analysis: Analysis) -> list:  # type: ignore[type-arg]
    return sorted(analysis.narratives, key=lambda m: (m.start, -m.confidence, m.claim_id))


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def render_analysis(analysis: Analysis, reviewed: Reviewed | None = None) -> str:
    """The page of ``analysis``; with ``reviewed`` (how people reviewed it), of its corrected state."""
    decided: dict[int, CorrectedSpan] = {}
    if reviewed is not None:
        analysis = reviewed.analysis
        decided = {id(s): r for s, r in zip(analysis.spans, reviewed.span_reviews, strict=True) if r.reviewed}
    doc = analysis.document
    text = doc.text
    spans = sorted(analysis.spans, key=lambda s: (s.start, -s.end))
    matches = _ordered_matches(analysis)
    ends: dict[int, list[int]] = {}
    for k, m in enumerate(matches, start=1):
        ends.setdefault(m.end, []).append(k)
    cuts = sorted(
        {0, len(text), *[s.start for s in spans], *[s.end for s in spans], *[m.start for m in matches], *ends}
    )
    parts = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        active = [s for s in spans if s.start <= a and s.end >= b]
        claimed = any(m.start <= a and m.end >= b for m in matches)
        piece = _escape(text[a:b])
        refs = "".join(f'<sup class="nref"><a href="#claim-{k}">[{k}]</a></sup>' for k in ends.get(b, []))
        if not active:
            parts.append((f'<span class="n">{piece}</span>' if claimed else piece) + refs)
            continue
        # the first span colours the background; each further one adds an underline, so overlaps stay visible
        colours = [taxonomy.get(s.technique, analysis.scheme).colour for s in active]
        shadows = ",".join(f"inset 0 -{3 * (i + 1)}px 0 {c}" for i, c in enumerate(colours[1:]))
        style = f"background:{colours[0]}40;border-bottom:2px solid {colours[0]}" + (
            f";box-shadow:{shadows}" if shadows else ""
        )
        if any(id(s) in decided for s in active):
            style += ";outline:1px dashed #333"  # a person decided it
        tip = "".join(
            f"<b>{_escape(taxonomy.display_name(s.technique))} &middot; {_escape(taxonomy.get(s.technique, analysis.scheme).category)}"
            f" &middot; {'' if s.score is None else f'{s.score:.0%}'}</b>"
            + (
                ""
                if s.span_confidence is None or s.technique_confidence is None
                else f"<p>propaganda at all: {s.span_confidence:.0%} likely; this technique, given that: "
                f"{s.technique_confidence:.0%} likely</p>"
            )
            + f"<p>{_escape(taxonomy.get(s.technique, analysis.scheme).definition)}</p>"
            + (f"<p>{_escape(_decided(decided[id(s)]))}</p>" if id(s) in decided else "")
            for s in active
        )
        label = "; ".join(
            f"{taxonomy.display_name(s.technique)} {'' if s.score is None else f'{s.score:.2f}'}" for s in active
        )
        parts.append(
            f'<span class="s{" n" if claimed else ""}" tabindex="0" style="{style}" aria-label="{_escape(label)}">'
            f'{piece}<span class="tip">{tip}</span></span>' + refs
        )
    counts: dict[str, int] = {}
    for s in spans:
        counts[s.technique] = counts.get(s.technique, 0) + 1
    rows = "".join(
        f'<tr><td><span class="sw" style="background:{taxonomy.get(t, analysis.scheme).colour}"></span>{_escape(taxonomy.display_name(t))}</td><td>{n}</td></tr>'
        for t, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    verdicts = "".join(
        f"<tr><td>{_escape(taxonomy.display_name(v.technique))}</td><td>{v.probability:.0%}</td></tr>"
        for v in analysis.techniques
        if v.present
    )
    title = short_title(doc.title or text) or doc.id
    review = "" if reviewed is None or not (reviewed.corrected or reviewed.complete) else _review_section(reviewed)
    corrected = f" &middot; {_escape(review_line(reviewed))}" if review else ""  # type: ignore[arg-type]
    notes = "".join(f'<p class="notes">{_escape(n)}</p>' for n in analysis.notes)
    looked = bool(analysis.techniques) or reads_techniques(analysis.language)
    none = "none found" if looked else "not looked for: technique spans are English-only"
    score = "n/a" if analysis.propaganda_score is None else f"{analysis.propaganda_score:.0%}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(title)} &middot; spinlens</title><style>{_CSS}</style></head>
<body><h1>{_escape(title)}</h1>
<div class="meta">article {_escape(doc.id)} &middot; {_escape(summary(analysis))} &middot; overall score {score}
&middot; language {_escape(language_name(analysis.language))}
&middot; model {_escape(analysis.model)} {_escape(analysis.model_version)}{corrected}</div>
{notes}
<article>{"".join(parts)}</article>
<aside><h2>Spans per technique</h2><table>{rows or f"<tr><td>{none}</td></tr>"}</table>
{narratives_section(analysis)}<h2>Article uses</h2><table>{verdicts or f"<tr><td>{none if not looked else 'no technique above its threshold'}</td></tr>"}</table>{review}
<p>Hover, tap or Tab to a highlighted passage for the technique, its definition and the model's two confidences.
{_escape(CONFIDENCE_HELP)}</p></aside>
</body></html>
"""


def _decided(span: CorrectedSpan) -> str:
    when = f", {span.decided:%Y-%m-%d %H:%M} UTC" if span.decided else ""
    return f"Corrected: {decision(span).value} by {span.author or 'a reviewer'}{when}"


def _review_section(reviewed: Reviewed) -> str:
    """What people did, and the model's original: its score and the spans they rejected."""
    model = reviewed.model
    score = "n/a" if model.propaganda_score is None else f"{model.propaganda_score:.0%}"
    rejected = "".join(
        f"<li>&ldquo;{_escape(model.document.text[s.start : s.end][:120])}&rdquo;: "
        f"{_escape(' + '.join(taxonomy.display_name(t) for t in s.techniques))} ({_escape(s.author or '')})</li>"
        for s in reviewed.rejected
    )
    return (
        f'<h2>Review</h2><p class="review">{_escape(review_line(reviewed))}. Outlined passages were decided by a '
        "person; their confidence is 1, and the article's score is recomputed from the corrected spans.</p>"
        f"<p>The model's own output: {len(model.spans)} span{'s' if len(model.spans) != 1 else ''}, "
        f"overall score {score}.</p>" + (f"<p>Rejected by people:</p><ul>{rejected}</ul>" if rejected else "")
    )
