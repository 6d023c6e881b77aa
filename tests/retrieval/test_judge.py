"""The optional judge model: loads offline, scores guides by their best text, fails clearly.

The tests build a tiny random sentence-transformers model themselves (a one-layer BERT of width
32 over a few German words), so they need neither the real model nor the network.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from core.settings import load_settings
from retrieval import judge as judge_module
from retrieval.judge import Judge, JudgeUnavailable, judge_gap, load_judge

# The tokenizer's whole vocabulary besides the special tokens (the rest is [UNK]); lower case,
# with umlauts, and the prompts' words.
WORDS = [
    "wie",
    "kann",
    "ich",
    "mein",
    "meine",
    "passwort",
    "ändere",
    "rechnung",
    "bezahle",
    "bezahlen",
    "e",
    "mail",
    "postfach",
    "einrichten",
    "domain",
    "umziehen",
    "ssl",
    "zertifikat",
    "installieren",
    "backup",
    "wiederherstellen",
    "kündigen",
    "vertrag",
    "die",
    "der",
    "das",
    "und",
    "query",
    "passage",
    ":",
    "?",
    "-",
]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PROMPTS = {"query": "query: ", "document": "passage: "}

GUIDES = [
    ["Rechnung bezahlen", "Wie bezahle ich die Rechnung?"],
    ["Passwort ändern", "Wie ändere ich mein Passwort?"],
    ["Domain umziehen", "SSL Zertifikat installieren"],
    ["Backup wiederherstellen"],
]


def _build_model(root: Path, prompts: dict[str, str] | None) -> Path:
    """A random, untrained model saved as a sentence-transformers folder; seeded, so every run
    builds the same weights."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers import models as token_models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    hf_dir = root / "hf"
    if not hf_dir.exists():
        vocab = {token: i for i, token in enumerate(SPECIAL + sorted(set(WORDS)))}
        tokenizer = Tokenizer(token_models.WordPiece(vocab, unk_token="[UNK]"))
        # Umlauts kept: the vocabulary spells "ändere" with its "ä".
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
        BertTokenizerFast(
            tokenizer_object=tokenizer,
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
            model_max_length=64,
        ).save_pretrained(hf_dir)
        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=37,
            max_position_embeddings=64,
        )
        BertModel(config).save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=64)
    model = SentenceTransformer(
        modules=[transformer, Pooling(32, "mean"), Normalize()],
        prompts=prompts,
        device="cpu",
    )
    folder = root / ("with-prompts" if prompts else "plain")
    model.save(str(folder), create_model_card=False)
    return folder


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("judge-model")


@pytest.fixture(scope="module")
def model_dir(model_root: Path) -> Path:
    return _build_model(model_root, PROMPTS)


@pytest.fixture(scope="module")
def plain_model_dir(model_root: Path, model_dir: Path) -> Path:
    return _build_model(model_root, None)


@pytest.fixture(scope="module")
def judge(model_dir: Path) -> Judge:
    return Judge(str(model_dir))


@pytest.fixture(autouse=True)
def _fresh_cache():
    judge_module._judge_for.cache_clear()
    yield
    judge_module._judge_for.cache_clear()


def test_loads_from_folder_with_its_prompts(judge: Judge) -> None:
    assert judge.model.prompts["query"] == "query: "
    assert judge.model.prompts["document"] == "passage: "


def test_one_score_per_guide_in_range_and_deterministic(judge: Judge, model_dir: Path) -> None:
    query = "Wie kann ich meine Rechnung bezahlen?"
    scores = judge.scores(query, GUIDES)
    assert len(scores) == len(GUIDES)
    assert all(isinstance(s, float) and -1.0 <= s <= 1.0 for s in scores)
    assert judge.scores(query, GUIDES) == pytest.approx(scores, abs=1e-6)
    # A second load of the same folder gives the same scores: nothing random at run time.
    assert Judge(str(model_dir)).scores(query, GUIDES) == pytest.approx(scores, abs=1e-6)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Wie ändere ich mein Passwort?", 1),
        ("SSL Zertifikat installieren", 2),
        ("Backup wiederherstellen", 3),
        ("Rechnung bezahlen", 0),
    ],
)
def test_identical_text_wins(judge: Judge, query: str, expected: int) -> None:
    scores = judge.scores(query, GUIDES)
    assert int(np.argmax(scores)) == expected
    assert judge_gap(scores) > 0


def test_score_is_the_best_text_of_the_guide_under_the_models_prompts(judge: Judge) -> None:
    query = "Wie ändere ich mein Passwort?"
    expected = []
    for guide in GUIDES:
        q = judge.model.encode(["query: " + query], normalize_embeddings=True)[0]
        p = judge.model.encode(["passage: " + t for t in guide], normalize_embeddings=True)
        expected.append(float((p @ q).max()))
    assert judge.scores(query, GUIDES) == pytest.approx(expected, abs=1e-5)


def test_prompt_names_are_used_without_encode_query(judge: Judge, monkeypatch) -> None:
    """Before sentence-transformers 5 there was no encode_query/encode_document: the same
    prompts, named "query" and "document", go through encode."""
    query = "Domain umziehen"
    native = judge.scores(query, GUIDES)
    monkeypatch.setattr(judge, "_native", False)
    assert judge.scores(query, GUIDES) == pytest.approx(native, abs=1e-5)


def test_model_without_prompts_encodes_plainly(plain_model_dir: Path) -> None:
    plain = Judge(str(plain_model_dir))
    scores = plain.scores("Backup wiederherstellen", GUIDES)
    # Same text, no prompts: the same vector, a cosine of 1.
    assert scores[3] == pytest.approx(1.0, abs=1e-5)
    assert max(scores[:3]) < scores[3]


def test_guides_without_texts(judge: Judge) -> None:
    assert judge.scores("Passwort", []) == []
    assert judge.scores("Passwort", [[], []]) == [-1.0, -1.0]
    scores = judge.scores("Passwort ändern", [[], ["Passwort ändern"]])
    assert scores[0] == -1.0 and scores[1] > -1.0


def test_load_judge_off_when_setting_is_empty() -> None:
    settings = dataclasses.replace(load_settings(), judge_model="")
    assert load_judge(settings) is None


def test_load_judge_loads_once_per_name(model_dir: Path) -> None:
    settings = dataclasses.replace(load_settings(), judge_model=str(model_dir))
    first = load_judge(settings)
    assert isinstance(first, Judge)
    assert load_judge(settings) is first


def test_settings_defaults(monkeypatch) -> None:
    monkeypatch.delenv("HELPDESK_JUDGE_MODEL", raising=False)
    monkeypatch.delenv("HELPDESK_JUDGE_TOP", raising=False)
    settings = load_settings()
    assert settings.judge_model == ""
    assert settings.judge_top == 3
    monkeypatch.setenv("HELPDESK_JUDGE_MODEL", " /models/judge ")
    monkeypatch.setenv("HELPDESK_JUDGE_TOP", "5")
    settings = load_settings()
    assert settings.judge_model == "/models/judge"
    assert settings.judge_top == 5


@pytest.mark.parametrize(
    "name",
    ["{tmp}/no-such-folder", "someone-unknown/no-such-judge-model", "no-such-judge-model"],
)
def test_unavailable_model_fails_at_once_without_network(
    name: str, tmp_path: Path, monkeypatch
) -> None:
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    settings = dataclasses.replace(load_settings(), judge_model=name.format(tmp=tmp_path))
    import sentence_transformers  # noqa: F401  (its import takes seconds; only the load is timed)

    start = time.monotonic()
    with pytest.raises(JudgeUnavailable, match="HELPDESK_JUDGE_MODEL"):
        load_judge(settings)
    assert time.monotonic() - start < 5
    assert attempts == []


def test_judge_gap() -> None:
    assert judge_gap([]) == 0.0
    assert judge_gap([0.7]) == 0.0
    assert judge_gap([0.5, 0.8, 0.6]) == pytest.approx(0.2)
    assert judge_gap([0.4, 0.4]) == 0.0


def test_search_feeds_the_judges_scores_into_the_verdict(settings, model_dir: Path) -> None:
    from retrieval.retriever import Retriever
    from tests.fakes import FakeEmbedder

    judged = Retriever(
        dataclasses.replace(settings, judge_model=str(model_dir), judge_top=2),
        embedder=FakeEmbedder(),
    )
    query = "Rechnungsadresse hinzufügen"
    index, hits = judged._ranked(query, 5, "hybrid")
    evidence = judged.evidence(index, query, hits)
    assert [e.judge is not None for e in evidence] == [True, True, False, False, False]
    assert all(-1.0 <= e.judge <= 1.0 for e in evidence[:2])
    plain = Retriever(settings, embedder=FakeEmbedder())
    assert plain.judge is None
    assert all(e.judge is None for e in plain.evidence(index, query, hits))
    assert judged.search(query).verdict in {"answer", "clarify", "not_covered"}
