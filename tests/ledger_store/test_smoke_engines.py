from ledger_store.bootstrap import describe_table
from ledger_store.config import TableSettings


def test_fresh_table_matches_models(settings: TableSettings) -> None:
    description = describe_table(settings)
    assert description.differences == ()
    assert description.ttl_status in ("ENABLED", "ENABLING")
