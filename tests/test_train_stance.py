"""The stance trainer's data split: what is held out stays held out, also across `--base` runs."""

from __future__ import annotations

from training.stance import Pair, base_saw_held_out, split_pairs


def _pairs(n: int) -> list[Pair]:
    return [Pair(f"premise {i}", f"hypothesis {i}", 1, "snli") for i in range(n)]


def test_split_keeps_dev_first_and_held_out_last():
    pairs = _pairs(100)
    dev, train, held = split_pairs(pairs, 10, 20)
    assert dev == pairs[:10] and held == pairs[80:] and train == pairs[10:80]


def test_a_base_that_trained_before_the_held_out_tail_is_accepted():
    # v1 was trained on positions [600, 40600) of the same shuffle; v2 holds out [0, 600) and the last 2000.
    v1 = {"seed": 13, "dev_pairs": 600, "max_pairs": 40000}
    assert not base_saw_held_out(v1, 64390, 13, 600, 2000)


def test_a_base_that_may_have_seen_held_out_pairs_is_refused():
    every_pair = {"seed": 13, "dev_pairs": 600, "max_pairs": 0}
    assert base_saw_held_out(every_pair, 64390, 13, 600, 2000)  # trained up to the end: saw the tail
    assert base_saw_held_out({"seed": 13, "dev_pairs": 300, "max_pairs": 1000}, 64390, 13, 600, 2000)  # smaller dev
    assert base_saw_held_out({"seed": 7, "dev_pairs": 600, "max_pairs": 1000}, 64390, 13, 600, 2000)  # other shuffle
    # a base that held out the same tail itself is fine even with every other pair
    assert not base_saw_held_out({"seed": 13, "dev_pairs": 600, "max_pairs": 0, "heldout_pairs": 2000},
                                 64390, 13, 600, 2000)
