"""A pipeline run's students against their dataset-specific teachers,
stage against stage, measured side by side.

A pipeline runs every teacher before any student, so its stage times
(``stage_times.md``) also measure whatever the machine drifts by in between
(on a shared virtual machine, 10 % or more between runs that look quiet).
Here each dataset's teacher and student stage run again from the configs
the pipeline wrote (``<seed dir>/{teachers,students}/<dataset>/config.py``)
as the pipeline runs them (``tools/train.py ... --test-best``; a cached
student builds its cache afresh first, into its own folder), in the order
teacher, student, student, teacher (repeated ``rounds`` times), and the
ratio is that of the summed CPU times (user + system, with the loader
workers), next to the wall-time ratio and each adjacent pair's.
"""
import os
import os.path as osp
import shutil
import sys
import tempfile

from mmengine.config import Config

from ...atomic_files import atomic_write_json, atomic_write_text
from ..stage_overrides import CACHE_DIR, cache_root, set_cache_root
from ..stage_process import REPO, run_logged

# A student's stage is to cost at most this much its teacher's (the
# paper's accounting: a student costs about one teacher training).
STAGE_TARGET = 1.1
ORDER = ('teacher', 'student', 'student', 'teacher')


def stage_configs(seed_dir, datasets=None) -> dict:
    """``{dataset: (teacher config, student config)}`` of a pipeline's seed
    folder; every dataset with a student stage unless ``datasets``.

    Raises:
        FileNotFoundError: a stage config that is not there (named).
    """
    students = osp.join(seed_dir, 'students')
    if datasets is None:
        datasets = sorted(os.listdir(students)) if osp.isdir(students) \
            else []
    if not datasets:
        raise FileNotFoundError(
            f'{students}: no student stages (give the seed folder of a '
            'pipeline run, e.g. work_dirs/offline_cached/seed0)')
    configs = {}
    for name in datasets:
        pair = tuple(osp.join(seed_dir, role, name, 'config.py')
                     for role in ('teachers', 'students'))
        for path in pair:
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{path}: no stage config; dataset {name!r} needs a '
                    'finished teacher and student stage in this run')
        configs[name] = pair
    return configs


def stage_command(config, run_dir) -> list:
    """The pipeline's command for a stage config, run in ``run_dir``; a
    cached stage's cache is built there afresh (the config is copied with
    its cache root moved)."""
    cfg = Config.fromfile(config)
    cached = cache_root(cfg) is not None
    if cached:
        set_cache_root(cfg, osp.join(run_dir, CACHE_DIR))
        config = atomic_write_text(osp.join(run_dir, 'config.py'),
                                   cfg.pretty_text)
    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), config,
           '--work-dir', run_dir, '--test-best',
           osp.join(run_dir, 'test_metrics.json')]
    return cmd + (['--build-cache', 'force'] if cached else [])


def run_stage_ratios(seed_dir, datasets=None, rounds=1, out=None,
                     command=None, run=run_logged):
    """Measure each dataset's student stage against its teacher's, side by
    side (see the module's docstring); write the report as JSON.

    Args:
        seed_dir (str): a pipeline run's seed folder.
        datasets (Sequence[str], optional): default: every student's.
        rounds (int): repetitions of teacher, student, student, teacher.
        out (str, optional): the JSON report.
        command (str, optional): the command line, recorded.
        run (callable): ``run(cmd, log_file) -> {'wall_time_s',
            'cpu_time_s'}`` (the pipeline's).

    Returns:
        dict: the report.
    """
    configs = stage_configs(seed_dir, datasets)
    work = tempfile.mkdtemp(prefix='mlfd_stages_')
    report = dict(command=command, seed_dir=seed_dir, rounds=rounds,
                  order=list(ORDER), target=STAGE_TARGET, datasets={})
    try:
        for name, pair in configs.items():
            times = dict(teacher=[], student=[])
            for _ in range(rounds):
                for role in ORDER:
                    run_dir = osp.join(work, name,
                                       f'{role}{len(times[role])}')
                    os.makedirs(run_dir)
                    config = pair[0] if role == 'teacher' else pair[1]
                    times[role].append(run(
                        stage_command(config, run_dir),
                        osp.join(run_dir, 'train.out')))
                    cpu_s = times[role][-1]['cpu_time_s']
                    print(f'{name} {role}: {cpu_s:.1f} s CPU', flush=True)
            report['datasets'][name] = _ratios(times)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        atomic_write_json(out, report)
    return report


def _ratios(times) -> dict:
    def total(role, key):
        return sum(t[key] for t in times[role])

    cpu = total('student', 'cpu_time_s') / total('teacher', 'cpu_time_s')
    return dict(
        teacher_cpu_s=[t['cpu_time_s'] for t in times['teacher']],
        student_cpu_s=[t['cpu_time_s'] for t in times['student']],
        cpu_ratio=cpu,
        wall_ratio=(total('student', 'wall_time_s') /
                    total('teacher', 'wall_time_s')),
        # each student run against the teacher run next to it
        pair_cpu_ratios=[s['cpu_time_s'] / t['cpu_time_s'] for s, t in zip(
            times['student'], times['teacher'])],
        met=cpu <= STAGE_TARGET)


def format_stage_ratios(report) -> str:
    lines = [f'student stage / teacher stage, side by side '
             f'({report["seed_dir"]}; order {", ".join(report["order"])} '
             f'x {report["rounds"]})',
             f'  {"dataset":<12} {"teacher CPU s":>22} {"student CPU s":>22} '
             f'{"CPU ratio":>9} {"wall ratio":>10}  per pair']
    for name, r in report['datasets'].items():
        def fmt(values):
            return ', '.join(f'{v:.1f}' for v in values)
        verdict = 'met' if r['met'] else 'MISSED'
        lines.append(
            f'  {name:<12} {fmt(r["teacher_cpu_s"]):>22} '
            f'{fmt(r["student_cpu_s"]):>22} {r["cpu_ratio"]:>9.2f} '
            f'{r["wall_ratio"]:>10.2f}  '
            f'{", ".join(f"{p:.2f}" for p in r["pair_cpu_ratios"])}  '
            f'(target <= {report["target"]}: {verdict})')
    return '\n'.join(lines)
