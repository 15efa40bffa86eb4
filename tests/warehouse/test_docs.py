from pathlib import Path

from warehouse.docs import schema_markdown


def test_schema_doc_is_up_to_date():
    doc = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
    assert doc.read_text(encoding="utf-8") == schema_markdown(), "run: python -m warehouse.docs > docs/schema.md"


def test_every_view_is_documented():
    text = schema_markdown()
    for view in ("verdict_evidence", "latest_verdicts", "verdict_history", "claims_per_article", "sources_by_domain",
                 "run_summary", "source_changes", "verdict_provenance", "verdicts_current", "review_queue",
                 "review_history"):
        section = text.split(f"### `{view}`", 1)[1].split("###", 1)[0]
        assert "| column | type |" in section and len(section.split("|---|---|")[0].strip()) > 20, view
