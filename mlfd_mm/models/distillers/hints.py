"""AMTML-KD's teacher list and multi-group hint map, checked as pure
functions: ``teachers=[dict(name, config, checkpoint), ...]`` and
``hints={teacher name: dict(teacher_stage=j, student_stage=s)}``, the stage
indices numbering the backbones' stages (``out_indices``)."""
from typing import Dict, List, Optional, Sequence

from ...config import as_dict

_TEACHER_KEYS = ('name', 'config', 'checkpoint')
_HINT_KEYS = ('teacher_stage', 'student_stage')


def check_teacher_specs(teachers: Sequence[dict]) -> List[dict]:
    """Plain copies of the teacher entries, each with a unique ``name``.

    Args:
        teachers (Sequence[dict]): ``dict(name=..., config=...,
            checkpoint=...)`` per teacher.

    Returns:
        list[dict]: The entries, in order.
    """
    if isinstance(teachers, dict) or not teachers:
        raise ValueError(
            'AMTMLDistiller: teachers must be a non-empty list of '
            'dict(name=..., config=..., checkpoint=...)')
    specs = []
    for i, spec in enumerate(teachers):
        spec = as_dict(spec) if isinstance(spec, dict) else spec
        if not isinstance(spec, dict) or 'config' not in spec or \
                set(spec) - set(_TEACHER_KEYS):
            raise ValueError(
                f'teachers[{i}] must be dict(name=..., config=..., '
                f'checkpoint=...), got {spec!r}')
        if not spec.get('name'):
            raise ValueError(
                f'teachers[{i}] has no `name`: AMTMLDistiller names its '
                'teachers in `hints` and in the logs')
        specs.append(spec)
    names = [spec['name'] for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f'teachers: names must be unique, {repeated} repeat')
    return specs


def check_hints(hints: Optional[dict],
                teacher_names: List[str]) -> Dict[str, dict]:
    """The hint map, keyed in the order of the teachers.

    Args:
        hints (dict, optional): ``{teacher name: dict(teacher_stage=<int>,
            student_stage=<int>)}``; teachers absent from it give soft
            targets only.
        teacher_names (list[str]): The teachers' names, in order.

    Returns:
        dict[str, dict]: The hints of the teachers that have one.
    """
    if hints and not isinstance(hints, dict):
        raise TypeError(
            'hints must be a dict {teacher name: dict(teacher_stage=..., '
            f'student_stage=...)}}, got {type(hints).__name__}')
    hints = as_dict(hints) if hints else {}
    for name, spec in hints.items():
        if name not in teacher_names:
            raise ValueError(
                f'hints: teacher {name!r} does not exist; the teachers '
                f'are {teacher_names}')
        if not isinstance(spec, dict) or set(spec) != set(_HINT_KEYS) \
                or not all(isinstance(spec[k], int)
                           and not isinstance(spec[k], bool)
                           for k in _HINT_KEYS):
            raise ValueError(
                f'hints[{name!r}] must be dict(teacher_stage=<int>, '
                f'student_stage=<int>), got {spec!r}')
    return {name: hints[name] for name in teacher_names if name in hints}


def hinted_stages(hint_map: Dict[str, dict],
                  stages: Optional[List[int]]) -> List[int]:
    """Student stages to record: the hinted ones and the deepest (beta,
    which gives the teacher weights).

    Args:
        hint_map (dict[str, dict]): From :func:`check_hints`.
        stages (list[int], optional): The student backbone's stages, None
            when its stage count is unknown.

    Returns:
        list[int]: Sorted stages.
    """
    if stages is None:
        raise ValueError(
            'AMTMLDistiller needs to know the student backbone\'s stages '
            '(its deepest one gives the teacher weights)')
    for name, spec in hint_map.items():
        if spec['student_stage'] not in stages:
            raise ValueError(
                f'hints[{name!r}]: student stage {spec["student_stage"]} '
                f'does not exist; the student backbone has stages {stages}')
    return sorted({spec['student_stage'] for spec in hint_map.values()}
                  | {stages[-1]})
