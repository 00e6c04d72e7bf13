"""Run MLFD end to end: stage 1 (dataset-specific teachers) -> stage 2 (joint
teacher) -> stage 3 (students), passing each stage's best checkpoint on.

    python tools/run_pipeline.py configs/pipelines/offline.py [--seeds 0 1 2]

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
the paper's table: per dataset, the dataset-specific model, the joint teacher
and the student, with the student's gain (mean ± std over seeds), in acc@1
and acc@5 (percent), or in acc@1 and mAP where the stages report an mAP
(video).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, REPO)
import mlfd_mm  # noqa: E402,F401
from mmengine.config import Config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Run the MLFD pipeline')
    parser.add_argument('config', help='pipeline config (configs/pipelines/)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-dir', help='default: work_dirs/<name>')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='passed to tools/train.py of every stage')
    return parser.parse_args(argv)


class Stage:
    """One train-then-test step of the pipeline.

    Args:
        key (str): 'teachers/mnist', 'joint', 'students/mnist'.
        config (str): the stage's training config.
        work_dir (str): where it trains.
        overrides (callable): ``fn(cfg, done) -> None`` that writes the
            checkpoints of finished stages (``done``: key -> stage record)
            into the config before it is saved for this stage.
    """

    def __init__(self, key, config, work_dir, overrides=None):
        self.key = key
        self.config = config
        self.work_dir = work_dir
        self.overrides = overrides
        self.record_file = osp.join(work_dir, 'stage.json')

    def finished(self):
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
        os.makedirs(self.work_dir, exist_ok=True)
        if not osp.isfile(self.config):
            raise FileNotFoundError(
                f'stage {self.key}: config file does not exist: '
                f'{self.config!r}')
        cfg = Config.fromfile(self.config)
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
        _call(train, osp.join(self.work_dir, 'train.out'))
        checkpoint = _best_checkpoint(self.work_dir)
        with open(metrics_file) as f:
            metrics = json.load(f)
        record = dict(key=self.key, seed=seed, checkpoint=checkpoint,
                      config=stage_cfg, source=self.config, metrics=metrics)
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


def _call(cmd, log_file):
    with open(log_file, 'w') as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                              cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
    if proc.returncode != 0:
        with open(log_file) as f:
            tail = ''.join(f.readlines()[-30:])
        raise RuntimeError(
            f'command failed ({proc.returncode}): {" ".join(cmd)}\n'
            f'last lines of {log_file}:\n{tail}')


def _set_teacher_checkpoints(cfg, done):
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


def _set_joint_checkpoint(cfg, done):
    """Student: the distiller's joint teacher is the stage-2 run's config
    (its teachers' checkpoints already resolved) and best checkpoint."""
    if 'joint' not in done:
        raise KeyError(
            'a student config with `model.teacher` (MLFD) needs the joint '
            'teacher, but the pipeline config has no `joint_teacher`')
    cfg.model.teacher.checkpoint = done['joint']['checkpoint']
    cfg.model.teacher.config = done['joint']['config']


def _set_student_teachers(cfg, done):
    """Student: a distiller with several frozen teachers (``model.teachers``,
    e.g. AMTML-KD) gets their stage-1 runs by name; one with a joint teacher
    (``model.teacher``, MLFD) gets the stage-2 run; a plain classifier
    trains alone."""
    if 'teachers' in cfg.model:
        _set_teacher_checkpoints(cfg, done)
    elif 'teacher' in cfg.model:
        _set_joint_checkpoint(cfg, done)


def build_stages(pipe, seed_dir):
    """The stages of one seed, under ``seed_dir``."""
    stages = [Stage(f'teachers/{name}', path,
                    osp.join(seed_dir, 'teachers', name))
              for name, path in pipe.teachers.items()]
    if pipe.get('joint_teacher'):
        stages.append(Stage('joint', pipe.joint_teacher,
                            osp.join(seed_dir, 'joint'),
                            _set_teacher_checkpoints))
    for name, path in (pipe.get('students') or {}).items():
        stages.append(Stage(f'students/{name}', path,
                            osp.join(seed_dir, 'students', name),
                            _set_student_teachers))
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


def export_student(record, work_dir):
    """Write the stock student of a finished stage-3 run (idempotent)."""
    out_dir = osp.join(work_dir, 'export')
    if not osp.isfile(osp.join(out_dir, 'student.pth')):
        _call([sys.executable, osp.join(REPO, 'tools/export_student.py'),
               record['config'], record['checkpoint'], out_dir],
              osp.join(work_dir, 'export.out'))
    return out_dir


# Where each reported metric sits in a stage's test metrics, and the factor
# that makes it a percentage: our per-dataset keys (MultiDatasetMetric,
# percent), mmpretrain's Accuracy (percent) and mmaction2's AccMetric /
# AccMAPMetric (fractions 0..1). The one place that knows the toolboxes'
# metric keys.
_METRIC_KEYS = {
    'acc@1': (('{dataset}/accuracy_top1', 1.0), ('accuracy/top1', 1.0),
              ('acc/top1', 100.0)),
    'acc@5': (('{dataset}/accuracy_top5', 1.0), ('accuracy/top5', 1.0),
              ('acc/top5', 100.0)),
    'mAP': (('{dataset}/mAP', 1.0), ('acc/mean_average_precision', 100.0)),
}


def metric_percent(metrics, dataset, name):
    """Metric ``name`` ('acc@1', 'acc@5' or 'mAP') of ``dataset``, in
    percent, from a single- or multi-dataset metrics dict; None if the
    metrics lack it."""
    for key, scale in _METRIC_KEYS[name]:
        key = key.format(dataset=dataset)
        if key in metrics:
            return float(metrics[key]) * scale
    return None


def _acc(metrics, dataset, topk):
    """acc@k (percent) of ``dataset``; see :func:`metric_percent`."""
    return metric_percent(metrics, dataset, f'acc@{topk}')


def _fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    if len(values) == 1:
        return f'{values[0]:.2f}'
    return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'


def _method_rows(pipe, records, seeds):
    """Rows of a pipeline whose ``table`` lists methods on one dataset:
    ``[(label, stage key), ...]``, each with acc@1/acc@5 of ``dataset``
    and its gain over the ``baseline`` stage."""
    header = ['method', 'stage', 'acc@1', 'acc@5', 'gain acc@1']
    rows = []
    for label, key in pipe.table:
        def per_seed(topk, key=key):
            return [_acc(records[s][key]['metrics'], pipe.dataset, topk)
                    if key in records[s] else None for s in seeds]
        base = [_acc(records[s][pipe.baseline]['metrics'], pipe.dataset, 1)
                if pipe.baseline in records[s] else None for s in seeds]
        gains = [a - b for a, b in zip(per_seed(1), base)
                 if a is not None and b is not None]
        gain = '-' if key == pipe.baseline or not gains else (
            _fmt(gains) if len(gains) > 1 else f'{gains[0]:+.2f}')
        rows.append([label, key, _fmt(per_seed(1)), _fmt(per_seed(5)), gain])
    return header, rows


def _check_table(pipe, stage_keys, config):
    for key in ('dataset', 'baseline'):
        if key not in pipe:
            raise KeyError(f'{config}: a pipeline with `table` needs `{key}`')
    for label, key in pipe.table:
        if key not in stage_keys:
            raise KeyError(
                f'{config}: table row {label!r} names stage {key!r}, which '
                f'the pipeline does not run (stages: {sorted(stage_keys)})')
    if pipe.baseline not in stage_keys:
        raise KeyError(f'{config}: baseline {pipe.baseline!r} is not a stage '
                       f'(stages: {sorted(stage_keys)})')


def write_results(pipe, records, seeds, path):
    """records: seed -> key -> stage record. Writes and returns markdown.

    By default one row per dataset (the paper's layout); a pipeline config
    with ``table`` gets one row per method instead (see _method_rows).
    """
    if pipe.get('table'):
        header, rows = _method_rows(pipe, records, seeds)
        lines = [f'# {pipe.name}: {pipe.dataset} test split, seeds {seeds}',
                 '', '| ' + ' | '.join(header) + ' |',
                 '|' + '---|' * len(header)]
        lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
        return _write_text('\n'.join(lines) + '\n', path)
    has_joint = bool(pipe.get('joint_teacher'))
    has_students = bool(pipe.get('students'))
    # The paper's metrics: acc@1 and acc@5, or acc@1 and mAP where the
    # stages report an mAP (video).
    has_map = any(
        metric_percent(record['metrics'], name, 'mAP') is not None
        for seed_records in records.values()
        for record in seed_records.values() for name in pipe.teachers)
    shown = ['acc@1', 'mAP'] if has_map else ['acc@1', 'acc@5']
    gained = shown if has_map else ['acc@1']
    header = ['dataset'] + [f'specific {m}' for m in shown]
    if has_joint:
        header += [f'joint {m}' for m in shown]
    if has_students:
        header += [f'student {m}' for m in shown]
        header += [f'gain {m}' for m in gained]
    lines = [f'# {pipe.name}: results over seeds {seeds}', '',
             '| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    gains_all = {m: [] for m in gained}
    for name in pipe.teachers:
        def per_seed(key, metric, dataset=name):
            return [metric_percent(records[s][key]['metrics'], dataset,
                                   metric)
                    if key in records[s] else None for s in seeds]
        row = [name] + [_fmt(per_seed(f'teachers/{name}', m))
                        for m in shown]
        if has_joint:
            row += [_fmt(per_seed('joint', m)) for m in shown]
        if has_students:
            row += [_fmt(per_seed(f'students/{name}', m)) for m in shown]
            for metric in gained:
                gains = [s - b for s, b in zip(
                    per_seed(f'students/{name}', metric),
                    per_seed(f'teachers/{name}', metric))
                         if s is not None and b is not None]
                gains_all[metric] += gains
                row.append(_fmt(gains) if gains else '-')
        lines.append('| ' + ' | '.join(row) + ' |')
    if has_students and gains_all['acc@1']:
        lines += ['', f'Mean student gain over datasets and seeds: '
                  f'{statistics.mean(gains_all["acc@1"]):+.2f} acc@1 points.']
        if gains_all.get('mAP'):
            lines.append(
                f'Mean student mAP gain over datasets and seeds: '
                f'{statistics.mean(gains_all["mAP"]):+.2f} mAP points.')
    return _write_text('\n'.join(lines) + '\n', path)


def _write_text(text, path):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)
    return text


def main(argv=None):
    args = parse_args(argv)
    pipe = Config.fromfile(args.config)
    for key in ('name', 'teachers'):
        if key not in pipe:
            raise KeyError(f'{args.config}: pipeline config needs `{key}`')
    work_dir = args.work_dir or osp.join('work_dirs', pipe.name)
    # `stages_of = <pipeline config>`: the stages that pipeline runs with the
    # same config file are its runs (in its sibling work dir), trained
    # there if missing.
    plan = [(seed, stage) for seed in args.seeds
            for stage in pipeline_stages(pipe, work_dir, seed, args.config)]
    if pipe.get('table'):
        _check_table(pipe, {stage.key for _, stage in plan}, args.config)
    records = {seed: {} for seed in args.seeds}
    start = time.time()
    for i, (seed, stage) in enumerate(plan):
        elapsed = time.strftime('%H:%M:%S', time.gmtime(time.time() - start))
        done = stage.finished()
        status = 'already done, skipped' if done else 'running'
        print(f'[{i + 1}/{len(plan)}] seed {seed} {stage.key}: {status} '
              f'(elapsed {elapsed}, {len(plan) - i - 1} stages left after '
              'this)', flush=True)
        if done is None:
            done = stage.run(seed, records[seed], args.cfg_options)
        if stage.key.startswith('students/'):
            export_student(done, stage.work_dir)
        records[seed][stage.key] = done
    results = osp.join(work_dir, 'results.md')
    text = write_results(pipe, records, args.seeds, results)
    print(text)
    print(f'written to {results}')
    return records


if __name__ == '__main__':
    main()
