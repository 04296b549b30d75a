"""Which arms are compared: each pair once, so Holm's family counts every comparison once."""

import json

from tasklab.report.grouping import arm_sizes, declared_reference
from tasklab.report.pairs import comparison_pairs

SMALL, LARGE = "related/full n_source=512", "related/full n_source=1024"
FAMILY = ("transfer", "regime.n_source", ("regime.source", "related"))
SIZES = {SMALL: (FAMILY, 512.0), LARGE: (FAMILY, 1024.0)}


def test_source_sizes_without_a_reference_are_compared_once_larger_minus_smaller():
    """Finding: with no scratch arm in a cell (a transfer run's source metrics), all pairs and
    the source-size steps both held the pair, once each way, doubling the family."""
    assert comparison_pairs([SMALL, LARGE], sizes=SIZES) == [(LARGE, SMALL)]
    bigger = "related/full n_source=4096"
    sizes = {**SIZES, bigger: (FAMILY, 4096.0)}
    pairs = comparison_pairs([SMALL, LARGE, bigger], sizes=sizes)
    assert len({frozenset(p) for p in pairs}) == len(pairs) == 3
    assert set(pairs) == {(LARGE, SMALL), (bigger, LARGE), (bigger, SMALL)}


def test_with_the_declared_reference_each_arm_is_compared_with_it_and_the_next_size():
    pairs = comparison_pairs(["scratch", SMALL, LARGE], ("scratch",), SIZES)
    assert pairs == [(SMALL, "scratch"), (LARGE, "scratch"), (LARGE, SMALL)]


def test_the_first_reference_present_wins_and_keeps_its_orientation():
    assert comparison_pairs([SMALL, LARGE], (LARGE, "scratch"), SIZES) == [(SMALL, LARGE)]
    assert comparison_pairs(["scratch", SMALL], ("absent", "scratch")) == [(SMALL, "scratch")]


def test_arms_of_other_families_are_not_stepped_between():
    other = "control/full n_source=1024"
    sizes = {
        **SIZES,
        other: (("transfer", "regime.n_source", ("regime.source", "control")), 1024.0),
    }
    pairs = comparison_pairs(["scratch", SMALL, LARGE, other], ("scratch",), sizes)
    assert (LARGE, SMALL) in pairs and not any(other in p and "scratch" not in p for p in pairs)


def test_arms_without_a_reference_or_sizes_get_every_pair_once():
    assert comparison_pairs(["b", "a", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]


def _record(arm: str, n_source: int, source: str = "related", **fields) -> dict:
    keys = [] if arm == "scratch" else ["regime.n_source", "regime.source"]
    return {
        "regime": "transfer",
        "arm": arm,
        "arm_keys": keys,
        "size_keys": ["data.n_train", "regime.n_source"],
        "overrides": [f"regime.n_source={n_source}", f"regime.source={source}"],
        "config": {"regime": {"n_source": n_source, "source": source}},
        "reference_arm": "scratch",
        "reference_effect": "gain",
        **fields,
    }


def test_arm_sizes_come_from_the_settings_the_records_declare_arm_defining_and_sizes():
    records = [_record("scratch", 0), _record(SMALL, 512), _record("c", 512, "control")]
    sizes = arm_sizes(records, ["scratch", SMALL, "c"])
    assert sizes[SMALL] == (("transfer", "regime.n_source", ("regime.source", "related")), 512.0)
    assert sizes["c"][0] != sizes[SMALL][0] and "scratch" not in sizes
    undeclared = [_record(SMALL, 512, size_keys=["data.n_train"])]
    assert arm_sizes(undeclared, [SMALL]) == {}  # an arm setting that is no size: no steps


def test_the_reference_is_the_one_the_records_declare_and_none_where_they_disagree():
    assert declared_reference([_record("scratch", 0), _record(SMALL, 512)]) == ("scratch", "gain")
    mixed = [_record("scratch", 0), _record(SMALL, 512, reference_arm="end_to_end")]
    assert declared_reference(mixed) == (None, "")
    assert declared_reference([{"regime": "old"}]) == (None, "")  # older records: none


def test_a_record_written_before_references_were_recorded_is_read_with_its_regimes(tmp_path):
    from tasklab.report.records import load_records
    from tasklab.results import RunResult, write_result

    write_result(
        tmp_path / "0",
        RunResult(
            status="ok", name="x", regime="transfer", seed=0, metrics={"test/mean/auroc": 0.5}
        ),
    )
    record_path = tmp_path / "0" / "result.json"
    text = record_path.read_text()
    old = {k: v for k, v in json.loads(text).items() if not k.startswith("reference_")}
    record_path.write_text(json.dumps(old))  # as an older tasklab wrote it
    (record,) = load_records([tmp_path]).ok
    assert (record["reference_arm"], record["reference_effect"]) == ("scratch", "gain")
