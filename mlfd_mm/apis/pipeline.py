"""Run MLFD end to end: stage 1 (dataset-specific teachers) -> stage 2 (joint
teacher) -> stage 3 (students), passing each stage's best checkpoint on.

A pipeline config names the configs of each stage:

    name = 'offline'
    teachers = dict(mnist='configs/teachers/offline_mnist_resnet18.py', ...)
    joint_teacher = 'configs/mlfd/joint_offline.py'            # optional
    students = dict(mnist='configs/mlfd/student_offline_mnist.py')  # optional
    stages_of = 'configs/pipelines/offline.py'  # optional: reuse its runs
                                                # of the same stage configs
    table = [('label', 'students/x'), ...]  # optional, with `dataset` and
    baseline = 'teachers/x'                 # `baseline`: a row per method

Every stage runs in its own process (tools/train.py, which then tests its
best checkpoint as tools/test.py would) under ``<work_dir>/seed<k>/<stage>``.
A stage that finished leaves ``stage.json`` (see
:mod:`mlfd_mm.apis.stage_record`) and is skipped next time if its resolved
config (the stage config after ``--cfg-options``, with the seed and the
finished stages it uses) and the checkpoints of those stages are the ones it
finished with; otherwise it runs again (its old run moved to
``superseded/<n>/``), and so does every stage that uses it. A killed stage
resumes from its last checkpoint; each attempt's log is kept
(``train.out.1``, ...). Each student is exported as a stock model to
``.../students/<name>/export/``. ``<work_dir>/results.md`` is the paper's
table (see :mod:`mlfd_mm.apis.results_table`).

A run owns its work directory (``<work_dir>/.lock``, see
:mod:`mlfd_mm.apis.work_dir_lock`) and those of its ``stages_of``
pipelines; killing it stops its stage's process too
(:mod:`mlfd_mm.apis.stage_process`).
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import Config, DictAction

from ..atomic_files import atomic_write_json, atomic_write_text
from ..config import complete_joint_loaders
from ..report import write_report
from .dataset_converters import check_pipeline_data
from .results_table import check_table, write_results, write_stage_times
from .stage_overrides import (  # noqa: F401 (set_student_init: tests)
    CACHE_DIR, cache_root, set_cache_root, set_joint_checkpoint,
    set_student_init, set_student_teachers, set_teacher_checkpoints)
from .stage_process import (REPO, PipelineInterrupted, _read_json,
                            export_student_run, run_logged,
                            stage_environment, stop_on_signals)
from .stage_record import (CACHE_TIMES, RECORD, RESOLVED,
                           checkpoint_changed, checkpoint_identity,
                           config_change, read_record, set_aside, stage_times,
                           text_sha256, write_record)
from .work_dir_lock import WorkDirLock, WorkDirLocked

__all__ = ['PipelineInterrupted', 'REPO', 'Stage', 'WorkDirLocked',
           'export_student_run', 'run_logged', 'run_pipeline',
           'stage_environment']


class Stage:
    """One train-then-test step of the pipeline.

    Args:
        key (str): 'teachers/mnist', 'joint', 'students/mnist'.
        config (str): the stage's training config.
        work_dir (str): where it trains.
        overrides (callable, optional): ``fn(cfg, done) -> None`` that writes
            the checkpoints of finished stages (``done``: key -> stage
            record) into the config before it is saved for this stage.
        root (str, optional): the pipeline work directory it belongs to
            (locked while the pipeline runs).
    """

    def __init__(self, key, config, work_dir, overrides=None, root=None):
        self.key = key
        self.config = config
        self.work_dir = work_dir
        self.overrides = overrides
        self.root = root
        self.record_file = osp.join(work_dir, RECORD)

    def finished(self):
        """The stage's record (absolute paths) if it finished (its checkpoint
        exists), else None."""
        record = read_record(self.work_dir)
        if record is None:
            return None
        source = record.get('source')
        if source and osp.normpath(source) != osp.normpath(self.config):
            # Shared stage directories (`stages_of`): never pass off one
            # config's run as another's.
            raise ValueError(
                f'stage {self.key}: {self.work_dir} holds a run of '
                f'{source!r}, but this pipeline names {self.config!r}; use '
                'another --work-dir or stage name')
        return record if osp.isfile(record.get('checkpoint', '')) else None

    def resolve(self, seed, done, extra_options):
        """The stage's config as it trains (the checkpoints of ``done``
        written in, the seed set) and its fingerprint: the sha256 of the
        config with ``--cfg-options`` applied and each finished stage it
        names replaced by a placeholder, and the checkpoint digests of
        those stages (its inputs).

        Returns:
            tuple[Config, str, dict]: the config, the fingerprinted text,
            ``dict(config=sha256, inputs={key: sha256})``.
        """
        if not osp.isfile(self.config):
            raise FileNotFoundError(
                f'stage {self.key}: config file does not exist: '
                f'{self.config!r}')
        # The loaders follow from the teachers as the config names them,
        # before the overrides point the teachers at this run's stages
        # (whose checkpoints replace every checkpoint='auto').
        cfg = complete_joint_loaders(Config.fromfile(self.config))
        plain = copy.deepcopy(cfg)
        used = _Placeholders(done)
        if self.overrides is not None:
            self.overrides(cfg, done)
            self.overrides(plain, used)
        for c in (cfg, plain):
            c.randomness = dict(c.get('randomness') or {}, seed=seed)
        # A stage that trains from a cache (teacher features, joint
        # outputs) keeps it in its own directory: it depends on this
        # seed's finished stages. The fingerprint names it by placeholder,
        # so that a moved work dir stays done.
        set_cache_root(cfg, osp.join(self.work_dir, CACHE_DIR))
        set_cache_root(plain, f'<stage dir>/{CACHE_DIR}')
        if extra_options:
            plain.merge_from_dict(parse_cfg_options(extra_options))
        text = plain.pretty_text
        inputs = {key: done[key].get('checkpoint_sha256')
                  for key in sorted(used.used)}
        return cfg, text, dict(config=text_sha256(text), inputs=inputs)

    def check(self, seed, done, extra_options):
        """Whether the stage is done for this run.

        Returns:
            tuple[dict | None, str | None, tuple]: the record if it finished
            with the same resolved config and inputs (else None), why it
            must run again (None for a stage never finished), and the
            resolved config (see :meth:`resolve`).
        """
        resolved = self.resolve(seed, done, extra_options)
        cfg, text, fingerprint = resolved
        record = self.finished()
        if record is None:
            if osp.isfile(self.record_file):
                return (None, 'its record is unreadable or its checkpoint '
                        'is missing', resolved)
            return None, None, resolved
        why = checkpoint_changed(record)
        old = record.get('fingerprint')
        if why is None and old is None:
            print(f'warning: stage {self.key}: its record ({self.record_file}'
                  ') predates fingerprints; trusted as done (remove it to '
                  'train the stage again)', file=sys.stderr, flush=True)
        elif why is None and old['config'] != fingerprint['config']:
            why = 'config changed: ' + config_change(self.work_dir, text)
        elif why is None:
            changed = [k for k in sorted(set(old['inputs']) |
                                         set(fingerprint['inputs']))
                       if old['inputs'].get(k) != fingerprint['inputs'].get(k)]
            if changed:
                why = 'input ' + ', '.join(changed) + ' changed'
        if why is not None:
            return None, why, resolved
        # A moved work dir: the saved config names the finished stages it
        # uses where they are now.
        stage_cfg = osp.join(self.work_dir, 'config.py')
        if _read_text(stage_cfg) != cfg.pretty_text:
            atomic_write_text(stage_cfg, cfg.pretty_text)
        return record, None, resolved

    def run(self, seed, done, extra_options, resolved=None):
        """Train and test the stage in a subprocess; write and return its
        record.

        Args:
            seed (int): the stage's ``randomness.seed``.
            done (dict): key -> record of the stages finished before it.
            extra_options (list[str]): ``--cfg-options`` for tools/train.py.
            resolved (tuple, optional): :meth:`resolve`'s result.
        """
        cfg, text, fingerprint = resolved or self.resolve(
            seed, done, extra_options)
        os.makedirs(self.work_dir, exist_ok=True)
        attempt = osp.join(self.work_dir, 'attempt.json')
        if _read_json(attempt) != fingerprint or osp.isfile(self.record_file):
            # Another config's (or a finished) run: never resume it.
            aside = set_aside(self.work_dir)
            if aside:
                print(f'stage {self.key}: the previous run is kept in '
                      f'{aside}', flush=True)
        fresh = _read_json(attempt) != fingerprint
        atomic_write_json(attempt, fingerprint)
        stage_cfg = osp.join(self.work_dir, 'config.py')
        atomic_write_text(stage_cfg, cfg.pretty_text)
        train = [sys.executable, osp.join(REPO, 'tools/train.py'), stage_cfg,
                 '--work-dir', self.work_dir]
        builds_cache = cache_root(cfg) is not None
        times_file = osp.join(self.work_dir, CACHE_TIMES)
        if builds_cache:
            # The cache is part of the stage: built (or resumed) first, in
            # the training process, from scratch when the stage starts
            # afresh; the build's own times come back in CACHE_TIMES.
            train += ['--build-cache', 'force' if fresh else 'resume']
            if osp.exists(times_file):
                os.remove(times_file)  # an earlier attempt's
        if _has_checkpoint(self.work_dir):
            train.append('--resume')  # a killed run goes on where it was
        # The best checkpoint is tested in the training process: a second
        # process would spend its start-up (imports, model, data) again.
        metrics_file = osp.join(self.work_dir, 'test_metrics.json')
        train += ['--test-best', metrics_file]
        if extra_options:
            train += ['--cfg-options', *extra_options]
        train_times = run_logged(train, osp.join(self.work_dir, 'train.out'))
        cache_times = None
        if builds_cache:
            cache_times = _read_json(times_file)
            if not cache_times:
                raise RuntimeError(
                    f'stage {self.key}: {times_file} is missing or '
                    'unreadable after the training process built its cache')
            train_times = {key: train_times[key] - cache_times[key]
                           for key in ('wall_time_s', 'cpu_time_s')}
        checkpoint = _best_checkpoint(self.work_dir)
        with open(metrics_file) as f:
            metrics = json.load(f)
        record = dict(key=self.key, seed=seed, checkpoint=checkpoint,
                      config=stage_cfg, source=self.config, metrics=metrics,
                      **stage_times(train_times, cache_times),
                      **checkpoint_identity(checkpoint),
                      fingerprint=fingerprint)
        atomic_write_text(osp.join(self.work_dir, RESOLVED), text)
        return write_record(self.work_dir, record)


class _Placeholders(dict):
    """``done`` with each record's paths replaced by placeholders; notes
    which records an override read."""

    def __init__(self, done):
        super().__init__({
            key: dict(record, checkpoint=f'<{key} checkpoint>',
                      config=f'<{key} config>')
            for key, record in done.items()})
        self.used = set()

    def __getitem__(self, key):
        self.used.add(key)
        return super().__getitem__(key)


def parse_cfg_options(options):
    """``['a.b=1', ...]`` as tools/train.py reads them (mmengine's
    DictAction)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    return parser.parse_args(['--o', *options]).o


def _read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _has_checkpoint(work_dir):
    """A killed run to resume: its ``last_checkpoint`` (mmengine writes an
    absolute path; in a moved directory it is pointed here)."""
    path = osp.join(work_dir, 'last_checkpoint')
    target = _read_text(path)
    if target is None:
        return False
    target = target.strip()
    here = osp.join(work_dir, osp.basename(target))
    if not osp.isfile(target) and osp.isfile(here):
        atomic_write_text(path, osp.abspath(here))
    return True


def _best_checkpoint(work_dir):
    for name in ('best.pth', 'last_checkpoint'):
        path = osp.join(work_dir, name)
        if name == 'last_checkpoint' and osp.isfile(path):
            with open(path) as f:
                path = f.read().strip()
        if osp.isfile(path):
            return osp.realpath(path)
    raise FileNotFoundError(f'no checkpoint was written in {work_dir!r}')


def build_stages(pipe, seed_dir):
    """The stages of one seed, under ``seed_dir``."""
    root = osp.dirname(osp.normpath(seed_dir))
    stages = [Stage(f'teachers/{name}', path,
                    osp.join(seed_dir, 'teachers', name), root=root)
              for name, path in pipe.teachers.items()]
    if pipe.get('joint_teacher'):
        stages.append(Stage('joint', pipe.joint_teacher,
                            osp.join(seed_dir, 'joint'),
                            set_teacher_checkpoints, root=root))
    for name, path in (pipe.get('students') or {}).items():
        stages.append(Stage(f'students/{name}', path,
                            osp.join(seed_dir, 'students', name),
                            set_student_teachers, root=root))
    return stages


def share_stages(stages, other_stages):
    """Run each stage that another pipeline has too (the same kind of stage,
    teacher, joint or student, from the same config file) in that
    pipeline's directory, so that its finished run is reused
    (``stages_of``); the others stay where they are."""
    def kind_and_config(stage):
        return stage.key.split('/')[0], osp.normpath(stage.config)

    theirs = {kind_and_config(stage): stage for stage in other_stages}
    for stage in stages:
        other = theirs.get(kind_and_config(stage))
        if other is not None:
            stage.work_dir = other.work_dir
            stage.record_file = other.record_file
            stage.root = other.root
    return stages


def pipeline_stages(pipe, work_dir, seed, config, _seen=()):
    """The stages of one seed of pipeline ``pipe`` (read from ``config``),
    with those of its ``stages_of`` pipeline (and so on) shared."""
    stages = build_stages(pipe, osp.join(work_dir, f'seed{seed}'))
    if not pipe.get('stages_of'):
        return stages
    if not osp.isfile(pipe.stages_of):
        raise FileNotFoundError(
            f'{config}: stages_of names {pipe.stages_of!r}, which is not a '
            'pipeline config file')
    if osp.abspath(pipe.stages_of) in _seen:
        raise ValueError(f'{config}: stages_of loops back to '
                         f'{pipe.stages_of!r}')
    other = Config.fromfile(pipe.stages_of)
    other_dir = osp.join(osp.dirname(osp.abspath(work_dir)), other.name)
    return share_stages(stages, pipeline_stages(
        other, other_dir, seed, pipe.stages_of,
        _seen + (osp.abspath(config), )))


def _stage_roots(plan):
    """The pipeline work directories the plan writes into (its own, and
    those of its ``stages_of`` pipelines)."""
    return {osp.abspath(stage.root) for _, stage in plan if stage.root}


def _run_stages(plan, seeds, cfg_options):
    records = {seed: {} for seed in seeds}
    start = time.time()
    for i, (seed, stage) in enumerate(plan):
        elapsed = time.strftime('%H:%M:%S', time.gmtime(time.time() - start))
        done, why, resolved = stage.check(seed, records[seed], cfg_options)
        status = ('already done, skipped' if done else
                  'running' if why is None else f'running again ({why})')
        print(f'[{i + 1}/{len(plan)}] seed {seed} {stage.key}: {status} '
              f'(elapsed {elapsed}, {len(plan) - i - 1} stages left after '
              'this)', flush=True)
        if done is None:
            done = stage.run(seed, records[seed], cfg_options, resolved)
        if stage.key.startswith('students/'):
            export_student_run(done, stage.work_dir)
        records[seed][stage.key] = done
    return records


def _write_outputs(pipe, records, seeds, plan, work_dir, report):
    results = osp.join(work_dir, 'results.md')
    text = write_results(pipe, records, seeds, results)
    print(text)
    print(f'written to {results}')
    # Apart from results.md, which stays the same for the same results.
    times = osp.join(work_dir, 'stage_times.md')
    print(write_stage_times(pipe, records, seeds, times))
    print(f'written to {times}')
    if report:
        stage_dirs = {}
        for seed, stage in plan:
            stage_dirs.setdefault(seed, {})[stage.key] = stage.work_dir
        index = write_report(work_dir, stage_dirs, table=pipe.get('table'),
                             dataset=pipe.get('dataset'))
        print(f'report: {osp.abspath(index)}')


def run_pipeline(config, seeds=(0, ), work_dir=None, cfg_options=(),
                 report=True):
    """Run (or resume) every stage of a pipeline for each seed, export the
    students and write ``<work_dir>/results.md`` and the report
    (``<work_dir>/report/index.html``, see :mod:`mlfd_mm.report`).

    Args:
        config (str): the pipeline config file.
        seeds (Sequence[int]): the seeds to run.
        work_dir (str, optional): default ``work_dirs/<name>``.
        cfg_options (Sequence[str]): ``--cfg-options`` for every stage.
        report (bool): Write the report (figures, t-SNE embeddings).

    Returns:
        dict: seed -> stage key -> stage record.
    """
    seeds = list(seeds)
    pipe = Config.fromfile(config)
    for key in ('name', 'teachers'):
        if key not in pipe:
            raise KeyError(f'{config}: pipeline config needs `{key}`')
    work_dir = work_dir or osp.join('work_dirs', pipe.name)
    # `stages_of = <pipeline config>`: the stages that pipeline runs with the
    # same config file are its runs (in its sibling work dir), trained
    # there if missing.
    plan = [(seed, stage) for seed in seeds
            for stage in pipeline_stages(pipe, work_dir, seed, config)]
    if pipe.get('table'):
        check_table(pipe, {stage.key for _, stage in plan}, config)
    # every missing dataset folder at once, before hours of stage 1
    check_pipeline_data(config)
    # The run owns its work dir and those of the `stages_of` pipelines it
    # writes into; a second run on one of them stops here.
    roots = sorted(set(_stage_roots(plan)) | {osp.abspath(work_dir)})
    with stop_on_signals(), contextlib.ExitStack() as locks:
        for root in roots:
            locks.enter_context(WorkDirLock(root))
        records = _run_stages(plan, seeds, list(cfg_options))
        _write_outputs(pipe, records, seeds, plan, work_dir, report)
    return records
