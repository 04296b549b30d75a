"""Which arms are compared: each pair once, so Holm's family counts every comparison once."""

from tasklab.report.pairs import comparison_pairs

SMALL, LARGE = "related/full n_source=512", "related/full n_source=1024"


def test_source_sizes_without_a_reference_are_compared_once_larger_minus_smaller():
    """Finding: with no scratch arm in a cell (a transfer run's source metrics), all pairs and
    the source-size steps both held the pair, once each way, doubling the family."""
    assert comparison_pairs([SMALL, LARGE]) == [(LARGE, SMALL)]
    bigger = "related/full n_source=4096"
    pairs = comparison_pairs([SMALL, LARGE, bigger])
    assert len({frozenset(p) for p in pairs}) == len(pairs) == 3
    assert set(pairs) == {(LARGE, SMALL), (bigger, LARGE), (bigger, SMALL)}


def test_with_scratch_each_arm_is_compared_with_it_and_with_the_next_source_size():
    pairs = comparison_pairs(["scratch", SMALL, LARGE])
    assert pairs == [(SMALL, "scratch"), (LARGE, "scratch"), (LARGE, SMALL)]


def test_a_given_reference_keeps_its_orientation():
    assert comparison_pairs([SMALL, LARGE], reference=LARGE) == [(SMALL, LARGE)]


def test_arms_without_source_sizes_get_every_pair_once():
    assert comparison_pairs(["b", "a", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]
