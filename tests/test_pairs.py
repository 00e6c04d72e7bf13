"""Distilled pairs: parsing, 'auto', and the errors that name the fix."""
import pytest

from mlfd_mm.models.distillers.pairs import (auto_pairs, level_names,
                                             parse_pairs, requested_stages,
                                             resolve_pairs)

# A ResNet-like student whose first two stages share a resolution (as a
# ResNet_CIFAR's stem-sized stage 0 and a stride-1 stage 1 would).
STAGES = [0, 1, 2, 3]
SIZES = {0: (8, 8), 1: (8, 8), 2: (4, 4), 3: (2, 2)}


def test_level_names_are_lower_case_from_one():
    assert level_names(3) == ['l1', 'l2', 'l3']


def test_parse_pairs_takes_sequences_and_dicts_in_order():
    pairs = parse_pairs([(3, 'l3'), [1, 'l1'],
                         dict(student=2, teacher='l2')])
    assert pairs == [(3, 'l3'), (1, 'l1'), (2, 'l2')]


@pytest.mark.parametrize('pair', [
    (True, 'l1'),  # a bool is an int to isinstance, not a stage
    (1, 'l1', 'extra'),
    (1, 2),
    ('1', 'l1'),
    dict(student=1),
    3,
])
def test_parse_pairs_rejects_what_is_not_a_pair(pair):
    with pytest.raises(ValueError, match=r"is not a \(student stage, "
                       r"teacher level\) pair such as \(3, 'l3'\)"):
        parse_pairs([pair])


def test_requested_stages():
    assert requested_stages('auto', STAGES) == STAGES
    assert requested_stages([(3, 'l2'), (1, 'l1')], None) == [3, 1]
    with pytest.raises(ValueError, match="distill must be 'auto'"):
        requested_stages('deepest', STAGES)
    with pytest.raises(ValueError, match='give explicit pairs'):
        requested_stages('auto', None)


def test_auto_pairs_deepest_stage_of_each_resolution():
    # Stage 0 shares stage 1's 8x8: stage 1 is the deeper of the two.
    assert auto_pairs(STAGES, SIZES, 3) == [(1, 0), (2, 1), (3, 2)]
    # Fewer levels: the deepest resolutions win.
    assert auto_pairs(STAGES, SIZES, 2) == [(2, 0), (3, 1)]


def test_auto_pairs_more_levels_than_resolutions():
    with pytest.raises(ValueError, match=r"the student has 3 resolutions "
                       r"for 4 joint levels \['l1', 'l2', 'l3', 'l4'\]"):
        auto_pairs(STAGES, SIZES, 4)


def test_resolve_pairs_explicit_and_auto():
    assert resolve_pairs([(0, 'l1'), (3, 'l3')], STAGES, SIZES, 3) == \
        [(0, 0), (3, 2)]
    assert resolve_pairs('auto', STAGES, SIZES, 3) == \
        auto_pairs(STAGES, SIZES, 3)


def test_resolve_pairs_unknown_level_hints_at_lower_case():
    with pytest.raises(ValueError) as err:
        resolve_pairs([(3, 'L3')], STAGES, SIZES, 3)
    assert "teacher level 'L3' does not exist" in str(err.value)
    assert 'named in lower case' in str(err.value)
    with pytest.raises(ValueError) as err:
        resolve_pairs([(3, 'l4')], STAGES, SIZES, 3)
    assert "levels ['l1', 'l2', 'l3']" in str(err.value)
    assert 'lower case' not in str(err.value)


def test_resolve_pairs_unknown_student_stage():
    # A backbone of unknown stage count: the probe's outputs are the truth.
    with pytest.raises(ValueError, match=r'student stage 5 does not exist; '
                       r'the student backbone gives stages \[0, 1, 2, 3\]'):
        resolve_pairs([(5, 'l1')], None, SIZES, 3)
