"""The results table of a pipeline run (``results.md``): per dataset, the
dataset-specific model, the joint teacher and the student with its gain, or
one row per method where the pipeline config has a ``table``."""
import statistics

from ..atomic_files import atomic_write_text
from ..evaluation.pipeline_results import metric_percent, student_verdict

def _format_values(values):
    """'-', one value, or 'mean ± std' over the values that exist."""
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    if len(values) == 1:
        return f'{values[0]:.2f}'
    return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'


def _per_seed(records, seeds, key, dataset, metric):
    """``metric`` of ``dataset`` in stage ``key`` for each seed (None where
    that seed has no such stage)."""
    return [metric_percent(records[s][key]['metrics'], dataset, metric)
            if key in records[s] else None for s in seeds]


def _method_rows(pipe, records, seeds):
    """Rows of a pipeline whose ``table`` lists methods on one dataset:
    ``[(label, stage key), ...]``, each with acc@1/acc@5 of ``dataset``
    and its gain over the ``baseline`` stage."""
    header = ['method', 'stage', 'acc@1', 'acc@5', 'gain acc@1']
    base = _per_seed(records, seeds, pipe.baseline, pipe.dataset, 'acc@1')
    rows = []
    for label, key in pipe.table:
        top1 = _per_seed(records, seeds, key, pipe.dataset, 'acc@1')
        top5 = _per_seed(records, seeds, key, pipe.dataset, 'acc@5')
        gains = [a - b for a, b in zip(top1, base)
                 if a is not None and b is not None]
        gain = '-' if key == pipe.baseline or not gains else (
            _format_values(gains) if len(gains) > 1 else f'{gains[0]:+.2f}')
        rows.append([label, key, _format_values(top1), _format_values(top5),
                     gain])
    return header, rows


def check_table(pipe, stage_keys, config):
    """Raise if a pipeline's ``table`` names a stage it does not run.

    Args:
        pipe (Config): the pipeline config, with ``table``.
        stage_keys (set[str]): the keys of the stages the pipeline runs.
        config (str): the pipeline config's path, for messages.
    """
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


def _markdown_table(header, rows):
    return ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)] + [
        '| ' + ' | '.join(row) + ' |' for row in rows]


def _dataset_rows(pipe, records, seeds):
    """The paper's layout: one row per dataset; returns the header, the rows
    and the gains of all rows per gained metric."""
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
        header += [f'gain {m}' for m in gained] + ['student vs specific']
    gains_all = {m: [] for m in gained}
    rows = []
    for name in pipe.teachers:
        def per_seed(key, metric, dataset=name):
            return _per_seed(records, seeds, key, dataset, metric)

        row = [name] + [_format_values(per_seed(f'teachers/{name}', m))
                        for m in shown]
        if has_joint:
            row += [_format_values(per_seed('joint', m)) for m in shown]
        if has_students:
            row += [_format_values(per_seed(f'students/{name}', m))
                    for m in shown]
            for metric in gained:
                gains = [s - b for s, b in zip(
                    per_seed(f'students/{name}', metric),
                    per_seed(f'teachers/{name}', metric))
                         if s is not None and b is not None]
                gains_all[metric] += gains
                row.append(_format_values(gains) if gains else '-')
            row.append(_verdict_cell(per_seed(f'teachers/{name}', 'acc@1'),
                                     per_seed(f'students/{name}', 'acc@1')))
        rows.append(row)
    return header, rows, gains_all if has_students else {}


def _verdict_cell(specific, student):
    """Whether the student beat its dataset-specific model (acc@1) beyond
    the seed spread, tied or lost; a loss is shouted."""
    specific = [v for v in specific if v is not None]
    student = [v for v in student if v is not None]
    if not specific or not student:
        return '-'
    verdict, _ = student_verdict(specific, student)
    return f'**{verdict}**' if verdict.startswith('lost') else verdict


def write_results(pipe, records, seeds, path):
    """Write the results table of a pipeline run as markdown.

    By default one row per dataset (the paper's layout); a pipeline config
    with ``table`` gets one row per method instead.

    Args:
        pipe (Config): the pipeline config.
        records (dict): seed -> stage key -> stage record.
        seeds (list[int]): the seeds, in the order they are reported.
        path (str): the markdown file to write.

    Returns:
        str: the markdown written.
    """
    if pipe.get('table'):
        header, rows = _method_rows(pipe, records, seeds)
        lines = [f'# {pipe.name}: {pipe.dataset} test split, seeds {seeds}',
                 ''] + _markdown_table(header, rows)
        return _write_text('\n'.join(lines) + '\n', path)
    header, rows, gains_all = _dataset_rows(pipe, records, seeds)
    lines = [f'# {pipe.name}: results over seeds {seeds}', ''
             ] + _markdown_table(header, rows)
    if gains_all.get('acc@1'):
        lines += ['', f'Mean student gain over datasets and seeds: '
                  f'{statistics.mean(gains_all["acc@1"]):+.2f} acc@1 points.']
        if gains_all.get('mAP'):
            lines.append(
                f'Mean student mAP gain over datasets and seeds: '
                f'{statistics.mean(gains_all["mAP"]):+.2f} mAP points.')
    return _write_text('\n'.join(lines) + '\n', path)


def _write_text(text, path):
    atomic_write_text(path, text)  # a reader never sees half a table
    return text


# ----------------------------------------------------------------------
# stage times (stage_times.md): apart from results.md, which depends only
# on the results
# ----------------------------------------------------------------------
def _seconds(record, key):
    value = (record or {}).get(key)
    return None if value is None else float(value)


def _cell(value, digits=1):
    return '-' if value is None else f'{value:.{digits}f}'


def _ratio(value, base):
    if value is None or not base:
        return None
    return value / base


def write_stage_times(pipe, records, seeds, path):
    """Write each stage's wall and process CPU time (user + system, with
    its loader workers), the part of them spent building a cache, and the
    paper's cost ratios: the joint teacher against the mean of the
    dataset-specific teachers, each student against its dataset's teacher.
    Stages finished by an earlier version have no CPU time ('-').

    Args:
        pipe (Config): the pipeline config.
        records (dict): seed -> stage key -> stage record.
        seeds (list[int]): the seeds.
        path (str): the markdown file to write.

    Returns:
        str: the markdown written.
    """
    header = ['seed', 'stage', 'wall s', 'CPU s', 'cache wall s',
              'cache CPU s', 'wall ratio', 'CPU ratio', 'ratio to']
    rows = []
    for seed in seeds:
        stages = records[seed]
        teachers = {key.split('/', 1)[1]: record
                    for key, record in stages.items()
                    if key.startswith('teachers/')}

        def base_of(key, what):
            if key == 'joint':
                values = [_seconds(r, what) for r in teachers.values()]
                if not values or None in values:
                    return None, 'teacher mean'
                return sum(values) / len(values), 'teacher mean'
            if key.startswith('students/'):
                name = key.split('/', 1)[1]
                if name in teachers:
                    return _seconds(teachers[name], what), f'teachers/{name}'
            return None, ''

        for key, record in stages.items():
            wall = _seconds(record, 'wall_time_s')
            cpu = _seconds(record, 'cpu_time_s')
            base_wall, label = base_of(key, 'wall_time_s')
            base_cpu, _ = base_of(key, 'cpu_time_s')
            rows.append([
                str(seed), key, _cell(wall), _cell(cpu),
                _cell(_seconds(record, 'cache_wall_time_s')),
                _cell(_seconds(record, 'cache_cpu_time_s')),
                _cell(_ratio(wall, base_wall), 2),
                _cell(_ratio(cpu, base_cpu), 2), label or '-'])
    lines = [f'# {pipe.name}: stage times (seconds; CPU = the stage '
             "process's user + system time with its loader workers; cache "
             'builds are included in their stage and shown apart)', ''
             ] + _markdown_table(header, rows)
    return _write_text('\n'.join(lines) + '\n', path)
