"""The ``helpdesk`` command: search and ask the KB, build the index, manage articles."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from core.settings import load_settings
from helpdesk.db_commands import cmd_db_revision, cmd_db_upgrade
from helpdesk.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def _retriever():
    # Imported late: `helpdesk kb check` must not pay for loading torch.
    from retrieval.retriever import get_retriever

    return get_retriever()


def _read_lines(stream) -> Iterable[str]:
    """Lines of stdin as text; invalid UTF-8 becomes U+FFFD instead of an exception."""
    for raw in stream.buffer if hasattr(stream, "buffer") else stream:
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        yield line.rstrip("\r\n")


VERDICT_LABELS = {
    "answer": "beantwortbar",
    "clarify": "unklar: Rückfrage, welche Anleitung gemeint ist",
    "not_covered": "nicht in der Wissensdatenbank",
}


def _search_json(retriever, query: str, top_k: int) -> dict:
    from retrieval.retriever import QueryError

    try:
        return retriever.search(query, top_k).to_dict()
    except QueryError as exc:
        return {
            "query": query,
            "answerable": False,
            "verdict": "not_covered",
            "choices": [],
            "took_ms": 0.0,
            "results": [],
            "error": str(exc),
        }


def _check_query(query: str) -> bool:
    """Reject an empty query before paying seconds for loading the model."""
    from retrieval.retriever import QueryError, prepare_query

    try:
        prepare_query(query, load_settings().max_query_chars)
    except QueryError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return False
    return True


def cmd_search(args: argparse.Namespace) -> int:
    from retrieval.retriever import QueryError

    if args.query != ["-"] and not args.json and not _check_query(" ".join(args.query)):
        return EXIT_USAGE
    retriever = _retriever()
    if args.query == ["-"]:
        retriever.load()  # model and index before the first line, not inside its timing
        for line in _read_lines(sys.stdin):
            print(
                json.dumps(_search_json(retriever, line, args.top_k), ensure_ascii=False),
                flush=True,
            )
        return EXIT_OK
    query = " ".join(args.query)
    if args.json:
        print(json.dumps(_search_json(retriever, query, args.top_k), ensure_ascii=False))
        return EXIT_OK
    try:
        response = retriever.search(query, args.top_k)
    except QueryError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{VERDICT_LABELS[response.verdict]} ({response.took_ms:.1f} ms)")
    if response.choices:
        print("Zur Auswahl: " + ", ".join(f"[{i}]" for i in response.choices))
    for rank, result in enumerate(response.results, 1):
        section = f" › {result.section}" if result.section else ""
        print(f"{rank}. [{result.article_id}] {result.title}{section}  ({result.score:.3f})")
        print(f"   {result.path}")
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    from retrieval.retriever import QueryError

    if not _check_query(" ".join(args.query)):
        return EXIT_USAGE
    try:
        print(_with_choices(_retriever().answer(" ".join(args.query))))
    except QueryError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _with_choices(answer) -> str:
    """The answer's text; for a question back, the guides offered, numbered."""
    lines = [answer.markdown]
    lines += [f"  {n}. {c.title} [{c.article_id}]" for n, c in enumerate(answer.choices, 1)]
    if answer.choices:
        lines.append("  0. Etwas anderes")
    return "\n".join(lines)


def _chosen(retriever, question: str, choices: list):
    """Ask for the number of the guide meant; its answer, or "not covered" for 0/other."""
    from retrieval.answer import Answer

    try:
        picked = input("Nummer: ").strip()
    except EOFError:
        picked = ""
    if picked.isdigit() and 1 <= int(picked) <= len(choices):
        return retriever.answer(question, choices[int(picked) - 1].article_id)
    return Answer(question, answerable=False, confidence=0.0, verdict="not_covered")


def cmd_kb_chat(args: argparse.Namespace) -> int:
    """Question-and-answer loop against the KB alone, in this process: search and answer, no bot.

    Not `serve --chat`, which talks to the running Rasa bot (dialogue, codes, handoff).
    """
    from retrieval.retriever import QueryError

    retriever = _retriever()
    print("Wissensdatenbank wird geladen …", flush=True)
    retriever.load()
    print("Stellen Sie Ihre Frage (leere Zeile oder Strg-D beendet).")
    while True:
        try:
            question = input("\nSie: ")
        except EOFError:
            break
        if not question.strip():
            break
        try:
            reply = retriever.answer(question)
            print(f"\nAssistent: {_with_choices(reply)}")
            if reply.choices:
                reply = _chosen(retriever, question, reply.choices)
                print(f"\nAssistent: {reply.markdown}")
        except QueryError as exc:
            print(f"\nAssistent: {exc}")
    print("Auf Wiedersehen!")
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    retriever = _retriever()
    report = retriever.rebuild()
    print(
        f"Index gebaut: {report.articles} Artikel, {report.chunks} Abschnitte, "
        f"{report.encoded} neu kodiert, {report.took_ms / 1000:.1f} s"
    )
    return EXIT_OK


def cmd_kb_check(args: argparse.Namespace) -> int:
    from kb.store import ArticleStore
    from kb.validate import check_store

    settings = load_settings()
    store = ArticleStore(settings.kb_dir)
    problems = check_store(store)
    for problem in problems:
        print(problem.format(Path.cwd()))
    count = len(store.paths())
    if problems:
        print(f"{len(problems)} Problem(e) in {count} Artikeln.", file=sys.stderr)
        return EXIT_FAILED
    print(f"{count} Artikel geprüft, keine Probleme.")
    return EXIT_OK


def cmd_kb_list(args: argparse.Namespace) -> int:
    from kb.store import ArticleStore

    store = ArticleStore(load_settings().kb_dir)
    for article in sorted(store.articles(), key=lambda a: a.id):
        print(f"{article.id:>5}  {article.status:<9}  {article.category:<26}  {article.title}")
    return EXIT_OK


def cmd_kb_import(args: argparse.Namespace) -> int:
    from kb.importer import import_dump
    from kb.store import ArticleStore

    source = Path(args.file)
    if not source.is_file():
        print(f"Fehler: Datei '{source}' nicht gefunden.", file=sys.stderr)
        return EXIT_USAGE
    store = ArticleStore(load_settings().kb_dir)
    try:
        report = import_dump(source, store, lang=args.lang)
    except UnicodeDecodeError:
        print(f"Fehler: '{source}' ist nicht in UTF-8 kodiert.", file=sys.stderr)
        return EXIT_USAGE
    for article in report.created:
        print(f"neu       {article.id:>5}  {article.title}")
    print(
        f"{len(report.created)} neu, {len(report.unchanged)} bereits importiert, "
        f"{len(report.preamble)} Zeilen Vorspann (siehe {report.record_path})."
    )
    if report.created and not args.no_index:
        _retriever().reindex([a.id for a in report.created])
    return EXIT_OK


def cmd_kb_export(args: argparse.Namespace) -> int:
    """The KB files brought to what the database has published: a backup, or a commit."""
    from core.db import get_sessionmaker, session_scope
    from kb.replica import Replica
    from kb.store import ArticleStore

    settings = load_settings()
    replica = Replica(ArticleStore(settings.kb_dir))
    with session_scope(get_sessionmaker(settings)) as session:
        changes = replica.sync(session, settings.data_dir)
    for article_id in changes.articles:
        print(f"geschrieben  {article_id:>5}")
    if changes.scope:
        print("geschrieben  Liste der nicht abgedeckten Themen")
    for path in changes.kept:
        print(f"behalten     {path} (hier geändert, in keiner Version der Datenbank)")
    print(
        f"{len(changes.articles)} Artikel aus der Datenbank geschrieben; {settings.kb_dir} "
        "entspricht dem veröffentlichten Stand"
        + (f", bis auf {len(changes.kept)} hier geänderte Datei(en)." if changes.kept else ".")
    )
    return EXIT_FAILED if changes.kept else EXIT_OK


def cmd_demo_load(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from core.db import init_db, make_engine, session_factory, session_scope
    from core.keys import code_key
    from helpdesk.demo import load_demo

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        init_db(engine)
        with session_scope(session_factory(engine)) as session:
            summary = load_demo(session, code_key(settings))
    finally:
        engine.dispose()
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    print(
        f"Demodaten geladen: {summary.customers} Kunden, {summary.invoices} Rechnungen, "
        f"{summary.reminders} Mahnungen, {summary.payments} Zahlungen ({where})."
    )
    return EXIT_OK


def cmd_users_add(args: argparse.Namespace) -> int:
    import getpass

    from core.db import get_sessionmaker, session_scope
    from core.users import UserError, add_user

    password = args.password_stdin and sys.stdin.readline().rstrip("\r\n")
    if not password:
        password = getpass.getpass("Passwort: ")
        if password != getpass.getpass("Passwort wiederholen: "):
            print("Fehler: Die Passwörter stimmen nicht überein.", file=sys.stderr)
            return EXIT_USAGE
    try:
        with session_scope(get_sessionmaker(load_settings())) as session:
            user = add_user(session, args.username, password, args.role)
            name, role = user.username, user.role
    except UserError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Benutzer {name} mit der Rolle {role} angelegt.")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from helpdesk.serve import serve

    return serve(load_settings(), chat=args.chat)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description="Helpdesk-Assistent")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str, parent=commands
    ):
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    search = add("search", cmd_search, "Die Wissensdatenbank durchsuchen")
    search.add_argument("--top-k", type=int, default=5, metavar="K")
    search.add_argument("--json", action="store_true", help="JSON ausgeben")
    search.add_argument(
        "query", nargs="+", help="Suchanfrage, oder '-' für eine Anfrage pro Zeile auf stdin"
    )
    ask = add("ask", cmd_ask, "Eine Frage beantworten, wie ein Kunde die Antwort sieht")
    ask.add_argument("query", nargs="+")
    # The command's name is a contract; its help says it is the search alone, not the bot.
    add("chat", cmd_kb_chat, "Fragen an die Anleitungen im Terminal (nur Suche, ohne Bot)")
    add("index", cmd_index, "Den Suchindex (neu) aufbauen")
    serve = add("serve", cmd_serve, "Alle Server starten: Rasa, Aktionen, Web (Strg-C beendet)")
    serve.add_argument(
        "--chat",
        action="store_true",
        help="im Terminal mit dem Bot schreiben (Dialog, Codes, Übergabe)",
    )
    kb = add("kb", lambda a: EXIT_USAGE, "Artikel verwalten")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True)
    add("check", cmd_kb_check, "Alle Artikel prüfen", kb_commands)
    add("list", cmd_kb_list, "Alle Artikel auflisten", kb_commands)
    imp = add("import", cmd_kb_import, "Einen Textexport in Artikel umwandeln", kb_commands)
    imp.add_argument("file")
    imp.add_argument("--lang", default="de")
    imp.add_argument("--no-index", action="store_true", help="den Suchindex nicht aktualisieren")
    add(
        "export",
        cmd_kb_export,
        "Die Artikeldateien auf den veröffentlichten Stand der Datenbank bringen",
        kb_commands,
    )
    demo = add("demo", lambda a: EXIT_USAGE, "Demodaten verwalten")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    add(
        "load", cmd_demo_load, "Die Demokunden laden (ersetzt deren bisherige Daten)", demo_commands
    )
    users = add("users", lambda a: EXIT_USAGE, "Konten für Agenten, Redakteure, Admins")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    users_add = add("add", cmd_users_add, "Ein Konto anlegen", users_commands)
    users_add.add_argument("username")
    users_add.add_argument("--role", required=True, choices=["agent", "editor", "admin"])
    users_add.add_argument(
        "--password-stdin", action="store_true", help="das Passwort aus der ersten Zeile von stdin"
    )
    db = add("db", lambda a: EXIT_USAGE, "Die Datenbank verwalten (Migrationen)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    add("upgrade", cmd_db_upgrade, "Die Datenbank auf den neuesten Stand migrieren", db_commands)
    revision = add(
        "revision",
        cmd_db_revision,
        "Eine Migration aus den geänderten Modellen erzeugen (für Entwickler)",
        db_commands,
    )
    revision.add_argument("-m", "--message", required=True, help="was die Migration ändert")
    revision.add_argument(
        "--empty", action="store_true", help="auch ohne Modelländerung (für Datenmigrationen)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "search" and args.json is False and args.query == ["-"]:
        args.json = True
    if getattr(args, "top_k", 1) < 1:
        print("Fehler: --top-k muss mindestens 1 sein.", file=sys.stderr)
        return EXIT_USAGE
    from retrieval.embeddings import ModelUnavailable

    try:
        return args.handler(args)
    except ModelUnavailable as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
