"""Plain functions that assemble the library for one run; flows and the CLI both call these."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import duckdb

from extractors.checkworthy import CheckworthinessScorer, RuleScorer
from extractors.sentences import Splitter
from factledger import __version__
from factledger.errors import ConfigError
from factledger.net import Fetcher
from factledger.records import Article, Claim, ClaimResult
from factledger.settings import PROVIDERS, Thresholds, factledger_home
from verifiers.cache import CachedEmbedder, CachedStance, ScoreCache
from verifiers.embed import Embedder, MiniLMEmbedder
from verifiers.pipeline import Verifier
from verifiers.providers import CorpusProvider, Provider, WikipediaProvider
from verifiers.reader import CrossEncoderReader
from verifiers.stance import ConflictRuleStance, StanceModel
from verifiers.verdict import Aggregator
from warehouse.store import RunInfo

__all__ = ["PROVIDERS", "LazyScorer", "Runtime", "corpus_index_store", "factledger_home", "load_corpus_index",
           "load_models", "make_providers", "prefetch_lexical", "result_rows", "run_info", "while_loading"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Held while a model is built: transformers imports its model code at the first load, and two
# threads doing that at once fail (a flow loads the check-worthiness model in its analysis task
# while it records the run in another thread, which loads the stance model).
_MODEL_LOAD = threading.RLock()


@dataclass
class Runtime:
    """The models and clients one process uses, each built on first use and then reused."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    embedder: Embedder | None = None
    splitter: Splitter | None = None
    scorer: CheckworthinessScorer | None = None
    stance: StanceModel | None = None
    fetcher: Fetcher | None = None
    wikipedia_api: str | None = None
    device: str | None = None  # auto (CUDA when torch sees a GPU), cpu, cuda, cuda:N
    cache: ScoreCache | None = None  # model outputs by revision and input sha256 (built-in models only)
    # Articles already loaded by whoever built this Runtime (the CLI loads an article to check
    # the input before any model loads), by the ref given: a flow takes its article from here
    # instead of reading or fetching it a second time.
    articles: dict[str, Article] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.splitter = self.splitter or Splitter()
        if self.embedder is None:  # injected models are used as given, uncached
            self.cache = self.cache or default_score_cache()
            inner = MiniLMEmbedder(device=self.device)
            self.embedder = CachedEmbedder(inner, self.cache) if self.cache else inner
        self.scorer = self.scorer or default_scorer(self.device)
        self.fetcher = self.fetcher or default_fetcher()
        self.wikipedia_api = self.wikipedia_api or os.environ.get("FACTLEDGER_WIKIPEDIA_API")

    @cached_property
    def stance_model(self) -> StanceModel:
        """The injected model, else the trained cross-encoder in models/stance/ (or
        $FACTLEDGER_STANCE_MODEL), else the conflict rules, with a warning."""
        if self.stance is not None:
            return self.stance
        from verifiers.stance_model import DEFAULT_MODEL_DIR, CrossEncoderStance, model_available

        path = Path(os.environ.get("FACTLEDGER_STANCE_MODEL") or DEFAULT_MODEL_DIR)
        if model_available(path):
            with _MODEL_LOAD:
                model = CrossEncoderStance(path, device=self.device)
            return CachedStance(model, self.cache) if self.cache else model
        log.warning("no trained stance model in %s (run `factledger train stance`); "
                    "falling back to the conflict rules", path)
        return ConflictRuleStance(self.splitter.nlp)


    @cached_property
    def _verdict_models(self) -> tuple[Aggregator | None, CrossEncoderReader | None]:
        if self.stance is not None:  # an injected stance model: its outputs were never fitted
            return None, None
        return load_aggregator(getattr(self.stance_model, "revision", None), lambda: load_reader(self.device))

    @property
    def aggregator(self) -> Aggregator | None:
        """The fitted verdict aggregator (models/verdict/aggregator.json, or $FACTLEDGER_VERDICT_MODEL)
        when it was fitted on this stance model's outputs (and this evidence reader's, when it
        uses one); else None and the rule `decide`."""
        return self._verdict_models[0]

    @property
    def reader(self) -> CrossEncoderReader | None:
        """The evidence reader the aggregator was fitted with (models/reader, or
        $FACTLEDGER_READER_MODEL); None when the aggregator uses none."""
        return self._verdict_models[1]


def while_loading(load: Callable[[], T], meanwhile: Callable[[], object]) -> T:
    """`load()` (build and load the models) in a thread while `meanwhile()` (import Prefect and
    start its API: `flows.warm.start_api`) runs in this one; returns what `load` returned, or
    raises what either raised, once both have ended. torch releases the GIL in most of its work and
    Prefect's API server is another process, so the two mostly overlap."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = load()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="factledger-models", daemon=True)
    thread.start()
    try:
        meanwhile()
    finally:
        thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def load_models(rt: Runtime, *, articles: bool = False) -> None:
    """Load now, not at first use, the models a check uses: the embedder, the stance model and
    the verdict aggregator; with `articles` also the parser and the check-worthiness scorer (a
    claim typed by hand needs neither). For a thread that loads them while other work goes on."""
    inner = getattr(rt.embedder, "inner", rt.embedder)
    getattr(inner, "model", None)  # MiniLMEmbedder's model is built at its first use
    rt.stance_model  # noqa: B018
    rt.aggregator  # noqa: B018
    if articles:
        rt.splitter.nlp  # noqa: B018
        getattr(rt.scorer, "loaded", None)  # LazyScorer
    # DuckDB imports pandas at its first bound parameter (~0.5-2 s): here, not in the run; last, as
    # the thread beside this one may have imported it already (`prefetch_lexical`).
    import pandas  # noqa: F401


def load_corpus_index(db: str | Path) -> int:
    """Load the corpus embeddings of `db` into this process's memory (`verifiers.providers.
    corpus_matrix`, kept per database file and corpus state) now; the passages held. Nothing
    when the database does not exist yet. They are also kept on disk (`corpus_index_store`), so
    that the next process reads one file instead of every row's vector from DuckDB."""
    from verifiers.providers import corpus_matrix
    from warehouse.db import opened, query_sql

    db = Path(db).expanduser().resolve()  # as the flows open it: the matrix is kept by path
    if not db.is_file():
        return 0
    with opened(db, read_only=True) as con:
        return len(corpus_matrix(con, query_sql("corpus_vectors"), query_sql("corpus_fingerprint"),
                                 store=corpus_index_store()).ids)


def prefetch_lexical(db: str | Path, claims: Sequence[Claim]) -> None:
    """The corpus's BM25 hits of `claims` (claims typed by hand: no model needed to know their
    text), looked up now and kept in the model cache, where the verifier finds them; nothing when
    the cache is off or the database does not exist yet. For a thread beside the models' load."""
    cache = default_score_cache()
    db = Path(db).expanduser().resolve()
    if cache is None or not db.is_file():
        return
    from warehouse.db import opened

    with opened(db, read_only=True) as con:
        CorpusProvider(con, candidates=Thresholds().retrieve_candidates, cache=cache).prefetch_lexical(claims)


def corpus_index_store() -> Path | None:
    """Where the corpus embeddings are kept between processes (~/.factledger/corpus-index, one
    matrix per database file: its latest corpus state); None when FACTLEDGER_MODEL_CACHE=off."""
    return None if _caches_off() else factledger_home() / "corpus-index"


DEFAULT_AGGREGATOR = Path(__file__).resolve().parents[1] / "models" / "verdict" / "aggregator.json"


def load_reader(device: str | None = None) -> CrossEncoderReader | None:
    """The evidence reader in models/reader (or $FACTLEDGER_READER_MODEL); None when there is none."""
    from verifiers.reader import DEFAULT_READER_DIR, reader_available

    path = Path(os.environ.get("FACTLEDGER_READER_MODEL") or DEFAULT_READER_DIR)
    if not reader_available(path):
        return None
    with _MODEL_LOAD:
        return CrossEncoderReader(path, device=device)


def load_aggregator(stance_revision: str | None, reader: Callable[[], CrossEncoderReader | None] = lambda: None,
                    ) -> tuple[Aggregator | None, CrossEncoderReader | None]:
    """models/verdict/aggregator.json (or $FACTLEDGER_VERDICT_MODEL) when it was fitted on the
    outputs of the stance model with this revision, with the evidence reader it was fitted with
    (`reader()` loads it, only when the aggregator uses one); else (None, None), with a warning
    when an aggregator is there but its models are not."""
    path = Path(os.environ.get("FACTLEDGER_VERDICT_MODEL") or DEFAULT_AGGREGATOR)
    if not path.is_file():
        return None, None
    aggregator = Aggregator.load(path)
    if aggregator.stance_revision != stance_revision:
        log.warning("verdict aggregator %s was fitted on stance model %s, not %s; using the rule verdict "
                    "(run `factledger train verdict`)", path, aggregator.stance_revision, stance_revision)
        return None, None
    if not aggregator.reader_revision:
        return aggregator, None
    loaded = reader()
    if loaded is None or loaded.revision != aggregator.reader_revision:
        log.warning("verdict aggregator %s was fitted with evidence reader %s, found %s; using the rule verdict "
                    "(run `factledger train verdict`)", path, aggregator.reader_revision,
                    loaded.revision if loaded else "none")
        return None, None
    return aggregator, loaded


def default_scorer(device: str | None = None) -> CheckworthinessScorer:
    """The fine-tuned check-worthiness model when its artefact is in the repo (loaded at its first
    use, once per process and device: `check-claim` never loads it), else the rule scorer."""
    from extractors.checkworthy_model import artefact_exists

    if artefact_exists():
        return LazyScorer(device)
    log.warning("check-worthiness artefact missing (models/checkworthiness); using the rule scorer")
    return RuleScorer()


class LazyScorer:
    """The fine-tuned check-worthiness scorer (`extractors.checkworthy_model.TrainedScorer`), loaded
    when it first scores or is asked for anything but its name (read from the artefact's meta.json,
    which is all a run's record needs of it)."""

    def __init__(self, device: str | None = None) -> None:
        from extractors.checkworthy_model import ARTEFACT_DIR

        self.device = device
        self.name = json.loads((ARTEFACT_DIR / "meta.json").read_text(encoding="utf-8"))["name"]
        # Resolved now, in the thread that builds the Runtime: transformers imports these names at
        # their first use, and two threads doing that at once fail ("cannot import name
        # 'AutoModelForSequenceClassification'"): a flow loads this model in its analysis task while
        # it records the run in another thread, which loads the stance model.
        import transformers

        for name in ("AutoConfig", "AutoModel", "AutoModelForSequenceClassification", "AutoTokenizer"):
            getattr(transformers, name)

    @cached_property
    def loaded(self):
        from extractors.checkworthy_model import TrainedScorer

        with _MODEL_LOAD:
            return TrainedScorer(device=self.device)

    def score(self, sentences):
        return self.loaded.score(sentences)

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "loaded":
            raise AttributeError(name)
        return getattr(self.loaded, name)


def default_score_cache() -> ScoreCache | None:
    """The model-output cache under ~/.factledger (off with FACTLEDGER_MODEL_CACHE=off)."""
    if _caches_off():
        return None
    return ScoreCache(factledger_home() / "model-cache.sqlite")


def _caches_off() -> bool:
    return os.environ.get("FACTLEDGER_MODEL_CACHE", "").lower() in ("off", "0", "no")


def default_fetcher() -> Fetcher:
    """The fetcher the CLI and flows use: HTTP cache under ~/.factledger, loopback only on request."""
    home = factledger_home()
    return Fetcher(
        cache_path=home / "http-cache.sqlite",
        warc_path=os.environ.get("FACTLEDGER_WARC") or None,
        allow_loopback=os.environ.get("FACTLEDGER_ALLOW_LOOPBACK") == "1",
    )


def make_providers(names: Sequence[str], con: duckdb.DuckDBPyConnection, rt: Runtime,
                   urls: Sequence[str] = ()) -> list[Provider]:
    """Providers by name, in the order given; `factchecks` results are shown first whatever the order."""
    from verifiers.web import FactCheckProvider, GdeltProvider, SearxngProvider, UrlsProvider
    from warehouse.credibility import blocked_domains

    rt.fetcher.blocked_domains = blocked_domains(con)
    providers: list[Provider] = []
    for name in dict.fromkeys(names):
        if name == "corpus":
            providers.append(CorpusProvider(con, candidates=rt.thresholds.retrieve_candidates, cache=rt.cache))
        elif name == "wikipedia":
            providers.append(WikipediaProvider(rt.fetcher, rt.splitter, api_url=rt.wikipedia_api))
        elif name == "factchecks":
            providers.append(FactCheckProvider(rt.fetcher, rt.embedder))
        elif name == "gdelt":
            providers.append(GdeltProvider(rt.fetcher, rt.splitter))
        elif name == "searxng":
            providers.append(SearxngProvider(rt.fetcher, rt.splitter))
        elif name == "urls":
            providers.append(UrlsProvider(rt.fetcher, rt.splitter, urls))
        else:
            raise ConfigError(f"unknown provider {name!r} (choose from {', '.join(PROVIDERS)})")
    return providers


def make_verifier(providers: Sequence[Provider], rt: Runtime, before: str | None = None) -> Verifier:
    return Verifier(providers, rt.embedder, rt.stance_model, rt.thresholds, before=before, cache=rt.cache,
                    aggregator=rt.aggregator, reader=rt.reader)


def run_info(run_id: str, flow_name: str, rt: Runtime, providers: Sequence[str], params: dict) -> RunInfo:
    stance = rt.stance_model
    return RunInfo(
        run_id=run_id, flow_name=flow_name, code_version=f"factledger {__version__}",
        embedder_name=rt.embedder.name, embedder_revision=rt.embedder.revision,
        stance_model=stance.name, stance_revision=stance.revision,
        checkworthy_model=rt.scorer.name, splitter_model=rt.splitter.model,
        providers=tuple(providers), params=params,
        thresholds={**rt.thresholds.as_dict(), "verdict_aggregator": rt.aggregator.revision if rt.aggregator else None,
                    "evidence_reader": rt.reader.revision if rt.reader else None},
    )


def result_rows(results: Sequence[ClaimResult], article: Article | None = None) -> list[dict]:
    """Plain rows for printing: one per claim, with its best piece of evidence."""
    rows = []
    for r in results:
        deciding = deciding_evidence(r)
        top = deciding[0] if deciding else (r.evidence[0] if r.evidence else None)
        rows.append({
            "claim_id": r.claim.claim_id,
            "input_id": r.claim.input_id,
            "rank": r.claim.rank,
            "span": [r.claim.start, r.claim.end] if r.claim.start is not None else None,
            "checkworthiness": round(r.claim.score, 3),
            "claim": r.claim.text,
            "label": r.verdict.label.value,
            "confidence": round(r.verdict.confidence, 3),
            "needs_review": r.verdict.needs_review,
            "rationale": r.verdict.rationale,
            "source_url": top.source.url if top else None,
            "passage": top.passage.text if top else None,
            "stance": top.stance.label.value if top else None,
            "deciding": [{"rank": e.rank, "source_url": e.source.url, "source_external_id": e.source.external_id,
                          "passage": e.passage.text, "stance": e.stance.label.value,
                          "similarity": round(e.similarity, 3)} for e in deciding],
            "fact_checks": [
                {"publisher": f.publisher, "rating": f.textual_rating, "review_date": f.review_date,
                 "url": f.review_url, "claim_reviewed": f.claim_reviewed}
                for f in r.fact_checks
            ],
            "article": article.ref if article else None,
        })
    return rows


def deciding_evidence(result: ClaimResult) -> list:
    """The passages a verdict rests on, strongest first: the relevant passages on the winning side
    (both sides for `conflicting`), or the passages read together when no single one decides; none
    for `not_enough_evidence` or a `refuted` that no passage carries (`verifiers.verdict.PRIOR_ONLY`)."""
    from factledger.records import Label
    from verifiers.verdict import PRIOR_ONLY, deciding, joint_items

    t = Thresholds()
    sup, ref = deciding(result.evidence, t)
    label = result.verdict.label
    if label is Label.SUPPORTED:
        return sup or joint_items(result.evidence, t)
    if label is Label.REFUTED:
        return ref or ([] if result.verdict.rationale.startswith(PRIOR_ONLY) else joint_items(result.evidence, t))
    if label is Label.CONFLICTING:
        return sup[:1] + ref[:1] + sup[1:] + ref[1:]
    return []


def read_claims_file(path: str) -> list[tuple[str | None, str]]:
    """(id, claim) pairs from a file: one claim per line (no id), or JSON Lines objects with a
    "claim" field and an optional "id"; the claim text exactly as given."""
    from factledger.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such claims file: {path}")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 text: {path}") from exc
    out: list[tuple[str | None, str]] = []
    for i, line in enumerate(lines, start=1):
        s = line.strip()
        if not s:
            continue
        input_id = None
        if s.startswith("{"):
            try:
                obj = json.loads(s)
            except ValueError as exc:
                raise InputError(f"invalid JSON on line {i}: {path}") from exc
            if not isinstance(obj.get("claim"), str):
                raise InputError(f"line {i} has no \"claim\" field: {path}")
            s = obj["claim"]
            input_id = None if obj.get("id") is None else str(obj["id"])
        out.append((input_id, s))
    if not out:
        raise InputError(f"no claims in file: {path}")
    return out


