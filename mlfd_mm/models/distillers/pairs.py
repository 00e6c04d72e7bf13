"""Distilled pairs of :class:`MLFDDistiller`: which student stage learns
from which joint-teacher level.

A pair is ``(student stage, teacher level)``: the stage indexes the student
backbone's stages (``out_indices`` numbering, 0..3 for a ResNet), the level
names a joint-teacher level, ``'l1'`` (shallowest) .. ``'lk'`` (deepest).
``distill='auto'`` pairs the deepest student stage of each spatial
resolution, the k deepest of them, with l1..lk in order.

Pure functions: they read a ``distill`` argument and the shapes the student
and the teacher report, and build nothing.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

Distill = Union[str, Sequence]


def level_names(num_levels: int) -> List[str]:
    """``['l1', ..., 'lk']`` for a joint teacher of ``num_levels`` levels,
    shallow to deep."""
    return [f'l{k}' for k in range(1, num_levels + 1)]


def parse_pairs(distill: Sequence) -> List[Tuple[int, str]]:
    """Explicit pairs as ``(student stage, level name)``.

    Args:
        distill (Sequence): Pairs given as 2-sequences ``(3, 'l3')`` or as
            dicts ``dict(student=3, teacher='l3')``.

    Returns:
        list[tuple[int, str]]: The pairs, in the given order; stages and
        levels are not checked against a model here.
    """
    pairs = []
    for pair in distill:
        if isinstance(pair, dict):
            pair = (pair.get('student'), pair.get('teacher'))
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or isinstance(pair[0], bool)
                or not isinstance(pair[0], int)
                or not isinstance(pair[1], str)):
            raise ValueError(
                f'distill: {pair!r} is not a (student stage, teacher '
                "level) pair such as (3, 'l3')")
        pairs.append((int(pair[0]), pair[1]))
    return pairs


def requested_stages(distill: Distill,
                     student_stages: Optional[List[int]]) -> List[int]:
    """The student stages that ``distill`` reads, before the student is
    built with them as extra outputs.

    Args:
        distill (str | Sequence): ``'auto'`` or explicit pairs.
        student_stages (list[int], optional): The student backbone's stages,
            or None when its stage count is unknown.

    Returns:
        list[int]: Every stage for ``'auto'`` (its pairs are chosen from
        their resolutions once built), else the stages the pairs name.
    """
    if isinstance(distill, str):
        if distill != 'auto':
            raise ValueError(
                f"distill must be 'auto' or a list of (student stage, "
                f"teacher level) pairs, got {distill!r}")
        if student_stages is None:
            raise ValueError(
                "distill='auto' needs to know the student backbone's "
                'stages; give explicit pairs')
        return list(student_stages)
    return [stage for stage, _ in parse_pairs(distill)]


def auto_pairs(student_stages: List[int],
               stage_sizes: Dict[int, Tuple[int, int]],
               num_levels: int) -> List[Tuple[int, int]]:
    """``distill='auto'``: the deepest student stage of each resolution,
    the ``num_levels`` deepest of them, paired with levels 0..k-1.

    Args:
        student_stages (list[int]): The student's stages, shallow to deep.
        stage_sizes (dict[int, tuple[int, int]]): (H, W) of each stage on
            one probe input.
        num_levels (int): k, the joint teacher's level count.

    Returns:
        list[tuple[int, int]]: ``(student stage, level index)`` pairs.
    """
    deepest_per_size = [
        s for s, nxt in zip(student_stages, student_stages[1:] + [None])
        if nxt is None or stage_sizes[nxt] != stage_sizes[s]
    ]
    chosen = deepest_per_size[-num_levels:]
    if len(chosen) < num_levels:
        raise ValueError(
            f"distill='auto': the student has {len(chosen)} resolutions for "
            f'{num_levels} joint levels {level_names(num_levels)}; give '
            'explicit pairs')
    return [(s, k) for k, s in enumerate(chosen)]


def resolve_pairs(distill: Distill, student_stages: Optional[List[int]],
                  stage_sizes: Dict[int, Tuple[int, int]],
                  num_levels: int) -> List[Tuple[int, int]]:
    """Pairs as ``(student stage, index into the joint levels)``.

    Args:
        distill (str | Sequence): ``'auto'`` or explicit pairs (see
            :func:`parse_pairs`), already accepted by
            :func:`requested_stages`.
        student_stages (list[int], optional): The student's stages (None
            when unknown, which only explicit pairs allow).
        stage_sizes (dict[int, tuple[int, int]]): (H, W) of every stage the
            student was built to output, on one probe input.
        num_levels (int): The joint teacher's level count.

    Returns:
        list[tuple[int, int]]: One entry per pair.
    """
    if isinstance(distill, str):
        return auto_pairs(student_stages, stage_sizes, num_levels)
    levels = level_names(num_levels)
    pairs = []
    for stage, level in parse_pairs(distill):
        if level not in levels:
            hint = ''
            if level[:1] == 'L':
                hint = (" (levels are named in lower case; 'Lk' is the "
                        "level-set shorthand of the teachers' config)")
            raise ValueError(
                f'distill: teacher level {level!r} does not exist; the joint '
                f'teacher has levels {levels} (shallow to deep){hint}')
        if stage not in stage_sizes:  # backbone with unknown stage count
            raise ValueError(
                f'distill: student stage {stage} does not exist; the '
                f'student backbone gives stages {sorted(stage_sizes)}')
        pairs.append((stage, levels.index(level)))
    return pairs
