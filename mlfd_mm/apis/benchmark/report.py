"""The benchmark's figures: per-variant medians and ratios against a floor,
verdicts against the targets, and the printed table."""
import statistics

from .training_floor import format_training_floor

# Upper bounds on the CPU-time ratios that the feature cache is for.
TARGETS = dict(joint_cached_vs_online=0.25, student_online_vs_plain=1.3,
               student_cached_vs_plain=1.1)


def verdict(ratio, target):
    """Whether ``ratio`` meets the upper bound ``target``, in words."""
    if ratio <= target:
        return f'target <= {target}: met'
    return f'target <= {target}: MISSED by {ratio - target:.2f}'


def step_section(cpu_times, wall_times, keys, floor):
    """Per-variant step figures, ratios taken against variant ``floor``.

    Args:
        cpu_times (dict): variant -> CPU seconds per step.
        wall_times (dict): variant -> wall seconds per step.
        keys (Sequence[str]): the variants of the section.
        floor (str): the variant every ratio divides by.

    Returns:
        dict: variant -> ``median_ms``, ``ratio``, ``times_ms`` and their
        wall-time counterparts (``wall_median_ms``, ...).
    """
    cpu = {k: statistics.median(cpu_times[k]) for k in (*keys, floor)}
    wall = {k: statistics.median(wall_times[k]) for k in (*keys, floor)}
    return {k: dict(median_ms=1000 * cpu[k],
                    ratio=cpu[k] / cpu[floor],
                    times_ms=[round(1000 * t, 2) for t in cpu_times[k]],
                    wall_median_ms=1000 * wall[k],
                    wall_ratio=wall[k] / wall[floor],
                    wall_times_ms=[round(1000 * t, 2) for t in wall_times[k]])
            for k in keys}


def _step_lines(report, rss):
    """The step tables of the joint teacher and of the student."""
    lines = []

    def row(label, key, section):
        entry = report[section]['variants'][key]
        added = rss.get(key, {}).get('added_mb')
        lines.append(
            f'  {label:<30} {entry["median_ms"]:>10.1f} '
            f'{entry["ratio"]:>7.2f} {entry["wall_median_ms"]:>10.1f} '
            f'{entry["wall_ratio"]:>7.2f} '
            f'{("%.0f" % added) if added is not None else "-":>12}')

    head = (f'  {"variant":<30} {"CPU ms":>10} {"ratio":>7} '
            f'{"wall ms":>10} {"ratio":>7} {"peak RSS +MB":>12}')
    joint = report['joint_step']
    lines += [f'joint-teacher training step (batch '
              f'{report["settings"]["batch_size"]}, mixed datasets)', head]
    row('teachers online', 'joint_online', 'joint_step')
    row('cached features (float16)', 'joint_cached', 'joint_step')
    row("cached, pool='min' (float16)", 'joint_cached_pooled', 'joint_step')
    lines.append(f'  cached / online = {joint["ratio_cached_vs_online"]:.3f}'
                 f'  ({joint["verdict"]})')
    student = report['student_step']
    lines += ['', f'MLFD student step ({student["dataset"]}, batch '
              f'{report["settings"]["batch_size"]})', head]
    row('plain supervised (floor)', 'student_plain', 'student_step')
    row('MLFD, joint teacher online', 'student_online', 'student_step')
    row('MLFD, joint teacher cached', 'student_cached', 'student_step')
    row("MLFD, cached, pool='min'", 'student_cached_pooled', 'student_step')
    for dtype in ('float16', 'float32'):
        if f'student_joint_output_{dtype}' in student['variants']:
            row(f'MLFD, joint-output {dtype}',
                f'student_joint_output_{dtype}', 'student_step')
    for mode in ('online', 'cached'):
        lines.append(
            f'  {mode} / plain = {student[f"ratio_{mode}_vs_plain"]:.3f}  '
            f'({student[f"verdict_{mode}"]})')
    if 'verdict_joint_output' in student:
        lines.append(
            '  joint-output cache (float16) / plain = '
            f'{student["ratio_joint_output_float16_vs_plain"]:.3f}  '
            f'({student["verdict_joint_output"]})')
    return lines


def _cache_lines(cache):
    b = cache['bytes_per_sample']
    lines = ['cache',
             f'  bytes per sample: float16 {b["float16"]:,}, float32 '
             f'{b["float32"]:,} (float16/float32 = '
             f'{b["float16"] / b["float32"]:.2f}); float16 with '
             f"pool='min' {b['float16_pool_min']:,}"]
    for dtype, rates in cache['read_samples_per_s'].items():
        lines.append(f'  read {dtype}: {rates["warm"]:,.0f} samples/s warm, '
                     f'{rates["cold"]:,.0f} cold (one process, features '
                     'only)')
    items = cache['item_samples_per_s']
    lines.append(f'  loader item, one worker: {items["images_only"]:,.0f} '
                 f'samples/s images only, {items["images_and_features"]:,.0f}'
                 ' with cached features')
    for key, value in cache['consumption_samples_per_s'].items():
        lines.append(
            f'  {key} step consumes {value:,.0f} samples/s: cache read '
            f'{cache["read_vs_consumption"][key]:.1f}x that, one worker\'s '
            f'items {cache["item_vs_consumption"][key]:.1f}x')
    return lines


def format_report(report):
    """The benchmark report as the text table the tool prints."""
    lines = _step_lines(report, report.get('peak_rss_mb', {}))
    lines += [''] + _cache_lines(report['cache'])
    if 'peak_rss_mb' in report:
        lines += ['', f'peak RSS: {report["memory_method"]}',
                  f'  this process after imports: '
                  f'{report["baseline_rss_mb"]:.0f} MB; per variant, peak '
                  'over the child\'s start (MB): ' + ', '.join(
                      f'{k} {v["added_mb"]:.0f}'
                      for k, v in report['peak_rss_mb'].items())]
    if 'training_floor' in report:
        lines += ['', format_training_floor(report['training_floor'])]
    lines.append(f'\ntotal {report["elapsed_s"]:.0f} s; JSON: '
                 f'{report["settings"]["out"]}')
    return '\n'.join(lines)
