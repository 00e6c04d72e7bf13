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
A stage that finished leaves ``stage.json`` and is skipped next time; one that
was killed resumes from its last checkpoint. Each student is exported as a
stock model to ``.../students/<name>/export/``. ``<work_dir>/results.md`` is
the paper's table (see :mod:`mlfd_mm.apis.results_table`).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time

from mmengine.config import Config

from ..config import complete_joint_loaders
from ..report import write_report
from .results_table import check_table, write_results

# The stages run the repository's tools/ scripts, in the repository root.
REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


class Stage:
    """One train-then-test step of the pipeline.

    Args:
        key (str): 'teachers/mnist', 'joint', 'students/mnist'.
        config (str): the stage's training config.
        work_dir (str): where it trains.
        overrides (callable, optional): ``fn(cfg, done) -> None`` that writes
            the checkpoints of finished stages (``done``: key -> stage
            record) into the config before it is saved for this stage.
    """

    def __init__(self, key, config, work_dir, overrides=None):
        self.key = key
        self.config = config
        self.work_dir = work_dir
        self.overrides = overrides
        self.record_file = osp.join(work_dir, 'stage.json')

    def finished(self):
        """The stage's record if it finished (its checkpoint exists), else
        None."""
        if not osp.isfile(self.record_file):
            return None
        with open(self.record_file) as f:
            record = json.load(f)
        source = record.get('source')
        if source and osp.normpath(source) != osp.normpath(self.config):
            # Shared stage directories (`stages_of`): never pass off one
            # config's run as another's.
            raise ValueError(
                f'stage {self.key}: {self.work_dir} holds a run of '
                f'{source!r}, but this pipeline names {self.config!r}; use '
                'another --work-dir or stage name')
        return record if osp.isfile(record.get('checkpoint', '')) else None

    def run(self, seed, done, extra_options):
        """Train and test the stage in a subprocess; write and return its
        record.

        Args:
            seed (int): the stage's ``randomness.seed``.
            done (dict): key -> record of the stages finished before it.
            extra_options (list[str]): ``--cfg-options`` for tools/train.py.
        """
        os.makedirs(self.work_dir, exist_ok=True)
        if not osp.isfile(self.config):
            raise FileNotFoundError(
                f'stage {self.key}: config file does not exist: '
                f'{self.config!r}')
        # The loaders follow from the teachers as the config names them,
        # before the overrides point the teachers at this run's stages
        # (whose checkpoints replace every checkpoint='auto').
        cfg = complete_joint_loaders(Config.fromfile(self.config))
        if self.overrides is not None:
            self.overrides(cfg, done)
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
        stage_cfg = osp.join(self.work_dir, 'config.py')
        cfg.dump(stage_cfg)
        train = [sys.executable, osp.join(REPO, 'tools/train.py'), stage_cfg,
                 '--work-dir', self.work_dir]
        if _has_checkpoint(self.work_dir):
            train.append('--resume')  # a killed run goes on where it was
        # The best checkpoint is tested in the training process: a second
        # process would spend its start-up (imports, model, data) again.
        metrics_file = osp.join(self.work_dir, 'test_metrics.json')
        train += ['--test-best', metrics_file]
        if extra_options:
            train += ['--cfg-options', *extra_options]
        start = time.time()
        run_logged(train, osp.join(self.work_dir, 'train.out'))
        wall_time = time.time() - start
        checkpoint = _best_checkpoint(self.work_dir)
        with open(metrics_file) as f:
            metrics = json.load(f)
        record = dict(key=self.key, seed=seed, checkpoint=checkpoint,
                      config=stage_cfg, source=self.config, metrics=metrics,
                      wall_time_s=round(wall_time, 1))
        tmp = self.record_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(record, f, indent=2)
        os.replace(tmp, self.record_file)
        return record


def _has_checkpoint(work_dir):
    return osp.isfile(osp.join(work_dir, 'last_checkpoint'))


def _best_checkpoint(work_dir):
    for name in ('best.pth', 'last_checkpoint'):
        path = osp.join(work_dir, name)
        if name == 'last_checkpoint' and osp.isfile(path):
            with open(path) as f:
                path = f.read().strip()
        if osp.isfile(path):
            return osp.realpath(path)
    raise FileNotFoundError(f'no checkpoint was written in {work_dir!r}')


def stage_environment(environ=None):
    """The environment of a stage's process: ``environ`` (default
    ``os.environ``) with the repository root first on ``PYTHONPATH``; the
    user's own ``PYTHONPATH`` entries are kept after it."""
    environ = dict(os.environ if environ is None else environ)
    paths = [p for p in environ.get('PYTHONPATH', '').split(os.pathsep)
             if p and osp.abspath(p) != REPO]
    environ['PYTHONPATH'] = os.pathsep.join([REPO, *paths])
    return environ


def run_logged(cmd, log_file):
    """Run ``cmd`` in the repository root with its output in ``log_file``;
    raise with the log's last lines if it fails."""
    with open(log_file, 'w') as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                              cwd=REPO, env=stage_environment())
    if proc.returncode != 0:
        with open(log_file) as f:
            tail = ''.join(f.readlines()[-30:])
        raise RuntimeError(
            f'command failed ({proc.returncode}): {" ".join(cmd)}\n'
            f'last lines of {log_file}:\n{tail}')


def set_teacher_checkpoints(cfg, done):
    """Joint teacher: each frozen teacher gets its stage-1 checkpoint."""
    for teacher in cfg.model.teachers:
        key = f'teachers/{teacher["name"]}'
        if key not in done:
            raise KeyError(
                f'{cfg.filename}: model.teachers names teacher '
                f'{teacher["name"]!r} but the pipeline has no stage-1 '
                'teacher of that name (have: '
                f'{sorted(k for k in done if k.startswith("teachers/"))})')
        teacher['checkpoint'] = done[key]['checkpoint']
        teacher['config'] = done[key]['config']


def set_joint_checkpoint(cfg, done):
    """Student: the distiller's joint teacher is the stage-2 run's config
    (its teachers' checkpoints already resolved) and best checkpoint."""
    if 'joint' not in done:
        raise KeyError(
            'a student config with `model.teacher` (MLFD) needs the joint '
            'teacher, but the pipeline config has no `joint_teacher`')
    cfg.model.teacher.checkpoint = done['joint']['checkpoint']
    cfg.model.teacher.config = done['joint']['config']


def set_student_teachers(cfg, done):
    """Student: a distiller with several frozen teachers (``model.teachers``,
    e.g. AMTML-KD) gets their stage-1 runs by name; one with a joint teacher
    (``model.teacher``, MLFD) gets the stage-2 run; a plain classifier
    trains alone."""
    if 'teachers' in cfg.model:
        set_teacher_checkpoints(cfg, done)
    elif 'teacher' in cfg.model:
        set_joint_checkpoint(cfg, done)


def build_stages(pipe, seed_dir):
    """The stages of one seed, under ``seed_dir``."""
    stages = [Stage(f'teachers/{name}', path,
                    osp.join(seed_dir, 'teachers', name))
              for name, path in pipe.teachers.items()]
    if pipe.get('joint_teacher'):
        stages.append(Stage('joint', pipe.joint_teacher,
                            osp.join(seed_dir, 'joint'),
                            set_teacher_checkpoints))
    for name, path in (pipe.get('students') or {}).items():
        stages.append(Stage(f'students/{name}', path,
                            osp.join(seed_dir, 'students', name),
                            set_student_teachers))
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


def export_student_run(record, work_dir):
    """Write the stock student of a finished stage-3 run (idempotent)."""
    out_dir = osp.join(work_dir, 'export')
    if not osp.isfile(osp.join(out_dir, 'student.pth')):
        run_logged([sys.executable, osp.join(REPO, 'tools/export_student.py'),
                    record['config'], record['checkpoint'], out_dir],
                   osp.join(work_dir, 'export.out'))
    return out_dir


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
    records = {seed: {} for seed in seeds}
    start = time.time()
    for i, (seed, stage) in enumerate(plan):
        elapsed = time.strftime('%H:%M:%S', time.gmtime(time.time() - start))
        done = stage.finished()
        status = 'already done, skipped' if done else 'running'
        print(f'[{i + 1}/{len(plan)}] seed {seed} {stage.key}: {status} '
              f'(elapsed {elapsed}, {len(plan) - i - 1} stages left after '
              'this)', flush=True)
        if done is None:
            done = stage.run(seed, records[seed], list(cfg_options))
        if stage.key.startswith('students/'):
            export_student_run(done, stage.work_dir)
        records[seed][stage.key] = done
    results = osp.join(work_dir, 'results.md')
    text = write_results(pipe, records, seeds, results)
    print(text)
    print(f'written to {results}')
    if report:
        stage_dirs = {}
        for seed, stage in plan:
            stage_dirs.setdefault(seed, {})[stage.key] = stage.work_dir
        index = write_report(work_dir, stage_dirs, table=pipe.get('table'),
                             dataset=pipe.get('dataset'))
        print(f'report: {osp.abspath(index)}')
    return records
