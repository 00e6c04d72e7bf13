"""Read what a pipeline run left in its work directory.

A run of ``tools/run_pipeline.py`` lays out ``<work_dir>/seed<k>/<stage>``
with ``<stage>`` one of ``teachers/<name>``, ``joint``, ``students/<name>``
(or another key of the pipeline). A finished stage holds ``stage.json``
(its record: seed, checkpoint, test metrics); every stage that trained holds
mmengine's ``<timestamp>/vis_data/scalars.json`` (one JSON object per line:
training iterations with ``epoch``/``iter``, validation epochs without
them). Nothing here trains or loads a model.
"""
import glob
import json
import os.path as osp
import re
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from ..evaluation.pipeline_results import metric_percent


def read_scalars(stage_dir: str) -> List[dict]:
    """Every line of every ``*/vis_data/scalars.json`` of a stage, oldest
    run first (a resumed stage has one timestamp directory per attempt).
    A line cut short by a kill is skipped."""
    entries = []
    for path in sorted(glob.glob(
            osp.join(stage_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return entries


def epoch_curves(entries: List[dict]) -> Tuple[Dict[str, Dict[int, float]],
                                               Dict[str, Dict[int, float]]]:
    """Per-epoch curves from scalars.json entries.

    Returns:
        tuple: ``(val, train)``: ``val[key][epoch]`` is the value of each
        validation metric at that epoch (a resumed run's later value wins);
        ``train[key][epoch]`` the mean of each ``loss*`` term (and of
        AMTML-KD's logged teacher weights ``mu_*``) over that epoch's logged
        iterations.
    """
    val: Dict[str, Dict[int, float]] = defaultdict(dict)
    sums: Dict[str, Dict[int, List[float]]] = defaultdict(
        lambda: defaultdict(list))
    for entry in entries:
        if 'iter' in entry and 'epoch' in entry:
            for key, value in entry.items():
                if key.startswith(('loss', 'mu_')) and isinstance(value, (int, float)):
                    sums[key][int(entry['epoch'])].append(float(value))
        elif 'step' in entry:
            for key, value in entry.items():
                if key not in ('step', 'time', 'data_time') and isinstance(
                        value, (int, float)):
                    val[key][int(entry['step'])] = float(value)
    train = {key: {e: sum(v) / len(v) for e, v in sorted(per_epoch.items())}
             for key, per_epoch in sums.items()}
    return dict(val), train


class PipelineRun:
    """The stages, records and curves of one pipeline work directory.

    Args:
        work_dir (str): ``work_dirs/<pipeline name>`` of a run, any seeds.
        stage_dirs (dict, optional): ``{seed: {stage key: directory}}`` as
            the pipeline lays them out (a ``stages_of`` pipeline runs some
            stages in another pipeline's directory). Stages named here but
            not finished are reported as missing. Without it, the stages
            are those found under ``work_dir/seed<k>/``.
    """

    def __init__(self, work_dir: str,
                 stage_dirs: Optional[Dict[int, Dict[str, str]]] = None):
        if not osp.isdir(work_dir):
            raise FileNotFoundError(
                f'report: pipeline work directory not found: {work_dir}')
        self.work_dir = work_dir
        if stage_dirs is None:
            stage_dirs = _discover(work_dir)
        if not stage_dirs:
            raise FileNotFoundError(
                f'report: {work_dir} holds no seed<k> directory: not the '
                'work directory of a tools/run_pipeline.py run')
        self.stage_dirs = stage_dirs
        self.seeds = sorted(stage_dirs)
        self.records: Dict[int, Dict[str, dict]] = {
            seed: {key: record for key, record in (
                (key, _read_record(d)) for key, d in dirs.items())
                   if record is not None}
            for seed, dirs in stage_dirs.items()}
        keys = list(dict.fromkeys(
            key for seed in self.seeds for key in stage_dirs[seed]))
        self.stage_keys = sorted(keys, key=_stage_order)  # stable: keeps
        # the pipeline's order of datasets within teachers/students

    def stage_dir(self, seed: int, key: str) -> str:
        return self.stage_dirs[seed].get(key) or osp.join(
            self.work_dir, f'seed{seed}', *key.split('/'))

    @property
    def datasets(self) -> List[str]:
        """Dataset names, from the teacher stages (``teachers/<name>``)."""
        return [k.split('/', 1)[1] for k in self.stage_keys
                if k.startswith('teachers/')]

    def missing(self) -> List[Tuple[int, str]]:
        """(seed, stage key) of every expected stage without a record."""
        return [(seed, key) for seed in self.seeds for key in self.stage_keys
                if key not in self.records[seed]]

    def metric(self, key: str, dataset: str, name: str) -> List[float]:
        """``name`` of ``dataset`` for stage ``key``, one value per seed
        that finished the stage."""
        values = []
        for seed in self.seeds:
            record = self.records[seed].get(key)
            if record is not None:
                value = metric_percent(record.get('metrics', {}), dataset,
                                       name)
                if value is not None:
                    values.append(value)
        return values

    def curves(self, seed: int, key: str):
        """``epoch_curves`` of one stage of one seed."""
        return epoch_curves(read_scalars(self.stage_dir(seed, key)))


def _discover(work_dir: str) -> Dict[int, Dict[str, str]]:
    """``{seed: {stage key: dir}}`` of every stage directory (one holding a
    ``config.py``) under ``work_dir/seed<k>/``."""
    found = {}
    for seed_dir in glob.glob(osp.join(work_dir, 'seed*')):
        match = re.fullmatch(r'seed(\d+)', osp.basename(seed_dir))
        if not match:
            continue
        dirs = {}
        for path in sorted(glob.glob(osp.join(seed_dir, '**', 'config.py'),
                                     recursive=True)):
            stage_dir = osp.dirname(path)
            key = osp.relpath(stage_dir, seed_dir).replace(osp.sep, '/')
            if key.split('/')[-1] != 'export':
                dirs[key] = stage_dir
        found[int(match.group(1))] = dirs
    return found


def _read_record(stage_dir: str) -> Optional[dict]:
    """A stage's ``stage.json``, or None if unfinished (a torn record is
    not a finished stage)."""
    try:
        with open(osp.join(stage_dir, 'stage.json')) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def _stage_order(key: str):
    rank = {'teachers': 0, 'joint': 1, 'students': 2}
    return rank.get(key.split('/')[0], 3)
