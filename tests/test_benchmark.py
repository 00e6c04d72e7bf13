"""mlfd_mm.apis.benchmark (tools/benchmark.py): a tiny run checks the
report's structure and figures; the ratios, verdicts and interleaving are
checked on known inputs, and the peak-RSS method sees a known
allocation."""
import json
import math
import os.path as osp

import pytest

from conftest import PYTHON, REPO, run_tool
from mlfd_mm.apis.benchmark import (format_report, peak_rss, run_benchmark,
                                    step_section, time_variants, verdict)


def positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and \
        value > 0


def test_verdict_says_met_or_by_how_much_it_missed():
    assert verdict(0.25, 0.25) == 'target <= 0.25: met'
    assert verdict(0.1, 0.25) == 'target <= 0.25: met'
    assert verdict(1.5, 1.3) == 'target <= 1.3: MISSED by 0.20'


def test_step_section_medians_and_ratios_from_known_times():
    cpu = dict(floor=[0.004, 0.002, 0.003], fast=[0.001, 0.0015, 0.002])
    wall = dict(floor=[0.010, 0.010, 0.010], fast=[0.005, 0.004, 0.003])
    section = step_section(cpu, wall, ['floor', 'fast'], 'floor')
    assert section['floor']['median_ms'] == pytest.approx(3.0)
    assert section['fast']['median_ms'] == pytest.approx(1.5)
    assert section['fast']['ratio'] == pytest.approx(0.5)
    assert section['fast']['wall_ratio'] == pytest.approx(0.4)
    assert section['fast']['times_ms'] == [1.0, 1.5, 2.0]
    assert section['fast']['wall_times_ms'] == [5.0, 4.0, 3.0]


def test_time_variants_interleaves_and_warms_up():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in 'abc'}
    cpu, wall = time_variants(steps, count=3, warmup=1)
    assert ''.join(calls) == 'abc' + 'abc' + 'cba' + 'abc'
    assert {k: len(v) for k, v in cpu.items()} == dict(a=3, b=3, c=3)
    assert {k: len(v) for k, v in wall.items()} == dict(a=3, b=3, c=3)


@pytest.mark.slow
def test_benchmark_report(tiny_offline_root, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the configs name files relative to the repo
    out = tmp_path / 'bench.json'
    roots = {n: osp.join(tiny_offline_root, n)
             for n in ('mnist', 'fashion', 'animals')}
    report = run_benchmark(batch_size=4, steps=2, warmup=0,
                           samples_per_dataset=8, skip_rss=True, out=str(out),
                           data_roots=roots)
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))

    joint = report['joint_step']
    variants = joint['variants']
    assert set(variants) == {'joint_online', 'joint_cached',
                             'joint_cached_pooled'}
    for entry in variants.values():
        assert positive(entry['median_ms']) and positive(entry['ratio'])
        assert positive(entry['wall_median_ms'])
        assert len(entry['times_ms']) == len(entry['wall_times_ms']) == 2
    # the headline ratio is the cached variant's median over the online one
    assert joint['ratio_cached_vs_online'] == pytest.approx(
        variants['joint_cached']['median_ms'] /
        variants['joint_online']['median_ms'])
    assert joint['verdict'] == verdict(joint['ratio_cached_vs_online'], 0.25)

    student = report['student_step']
    assert student['dataset'] == 'mnist'
    assert set(student['variants']) == {'student_plain', 'student_online',
                                        'student_cached',
                                        'student_cached_pooled',
                                        'student_joint_output_float16',
                                        'student_joint_output_float32'}
    assert student['ratio_joint_output_float16_vs_plain'] == pytest.approx(
        student['variants']['student_joint_output_float16']['ratio'])
    assert student['verdict_joint_output'] == verdict(
        student['ratio_joint_output_float16_vs_plain'], 1.1)
    assert student['ratio_online_vs_plain'] == pytest.approx(
        student['variants']['student_online']['ratio'])
    assert student['ratio_cached_vs_plain'] == pytest.approx(
        student['variants']['student_cached']['median_ms'] /
        student['variants']['student_plain']['median_ms'])

    cache = report['cache']
    sizes = cache['bytes_per_sample']
    assert sizes['float32'] == 2 * sizes['float16'] > 0
    # 'min' pooling shrinks the mnist teacher's 16x16 and 8x8 maps.
    assert 0 < sizes['float16_pool_min'] < sizes['float16']
    for rates in cache['read_samples_per_s'].values():
        assert positive(rates['warm']) and positive(rates['cold'])
    assert set(cache['consumption_samples_per_s']) == {'joint_cached',
                                                       'student_cached'}
    assert all(positive(v) for v in cache['read_vs_consumption'].values())
    assert report['environment']['teacher_weights']['mnist'].startswith(
        'random')
    table = format_report(report)
    assert f'cached / online = {joint["ratio_cached_vs_online"]:.3f}' \
        in table
    assert f'cached / plain = {student["ratio_cached_vs_plain"]:.3f}' \
        in table


@pytest.mark.slow
def test_benchmark_tool_refuses_a_bad_pair():
    proc = run_tool(PYTHON, 'tools/benchmark.py', '--data-root', 'mnist',
                    check=False)
    assert proc.returncode != 0
    assert "--data-root 'mnist': use NAME=PATH" in proc.stderr


def test_peak_rss_sees_an_allocation():

    def allocates_64_mb():
        block = bytearray(64 * 1024 * 1024)

        def step():
            block[::4096] = b'\1' * len(block[::4096])  # touch every page

        return step

    result = peak_rss(allocates_64_mb)
    assert 60 <= result['added_mb'] <= 90, result
    assert result['peak_mb'] >= result['start_mb'] + 60


def test_cache_reads_mode_side_by_side(tmp_path, monkeypatch, capsys):
    import importlib.util

    import numpy as np

    from mlfd_mm.apis.benchmark import cache_reads
    from mlfd_mm.cache import FeatureCacheReader

    # The synthetic cache reads back what was written, row by row.
    manifest = cache_reads.synthetic_cache(str(tmp_path / 'c'),
                                           dict(a=5, b=3), shard_size=2)
    assert manifest['splits']['train']['b']['num_shards'] == 2
    reader = FeatureCacheReader(str(tmp_path / 'c'), 'train')
    rows = np.fromfile(tmp_path / 'c' / 'train' / 'a' / '00002.bin',
                       dtype='<f2').reshape(-1, reader.layout.numel)
    assert rows.shape == (1, 3 * 3 * 16)
    assert np.array_equal(reader.read('a', 4), rows[0])

    # The tool's mode, on two small caches (one and three shard files).
    monkeypatch.setattr(cache_reads, 'SIZES', dict(
        small=dict(x=100), large=dict(y=1500, z=1000)))
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', osp.join(REPO, 'tools', 'benchmark.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'reads.json'
    report = tool.main(['--cache-reads', '--reads', '300', '--rounds', '2',
                        '--with-old-layout', '--out', str(out)])
    assert json.loads(out.read_text())['ratio_us'] == report['ratio_us']
    small, large = report['caches']['small'], report['caches']['large']
    assert (small['files'], large['files']) == (1, 3)
    assert (small['files_old_layout'], large['files_old_layout']) == (9, 27)
    assert len(small['rounds']) == len(large['rounds']) == 2
    for entry in (small, large):
        assert positive(entry['us_per_sample'])
        assert entry['peak_mb'] >= entry['rounds'][0]['start_mb']
        assert entry['bytes_per_sample'] == 288
    assert positive(report['ratio_us']) and positive(
        report['ratio_peak_rss'])
    assert report['met'] == (max(report['ratio_us'],
                                 report['ratio_peak_rss']) <= 1.2)
    printed = capsys.readouterr().out
    assert 'large/small:' in printed and 'peak RSS' in printed
    # The layout-1 reference reads the same values from its .npy files.
    assert len(large['old_layout_rounds']) == 2
    assert positive(report['old_layout_ratio_us'])
    assert 'layout 1 large/small' in printed
    root = str(tmp_path / 'c')
    cache_reads.write_old_layout(root)
    old = cache_reads.OldLayoutReader(root, max_open=2)
    buf = np.empty(reader.layout.numel, dtype=reader.layout.dtype)
    for name, i in (('a', 4), ('b', 0), ('a', 1), ('b', 2)):
        assert np.array_equal(old.read(name, i, buf), reader.read(name, i))
    assert len(old._open) == 2


def test_training_floor_figures_from_known_times():
    from mlfd_mm.apis.benchmark import floor_variants
    from mlfd_mm.apis.benchmark.training_floor import _Clock, floor_verdict

    clock = _Clock()
    # (wall, cpu) at each step's start and end: 2 warm-up iterations, then
    # 2 timed ones of 10 samples each
    clock.starts = [(0.0, 0.0), (1.0, 0.5), (2.5, 1.0), (4.0, 2.0)]
    clock.ends = [(0.5, 0.4), (2.0, 0.9), (3.5, 1.8), (5.0, 2.6)]
    figures = clock.summary(warmup_iters=2, samples=20)
    assert figures['iterations'] == 2
    assert figures['wall_s'] == pytest.approx(3.0)  # 2.0 -> 5.0
    assert figures['cpu_s'] == pytest.approx(1.7)   # 0.9 -> 2.6
    assert figures['wall_ms_per_sample'] == pytest.approx(150.0)
    assert figures['cpu_ms_per_sample'] == pytest.approx(85.0)
    assert figures['step_ms'] == pytest.approx(1000.0)  # 1.0 and 1.0
    assert figures['between_steps_ms'] == pytest.approx(500.0)
    with pytest.raises(RuntimeError, match='nothing to time'):
        clock.summary(warmup_iters=4, samples=1)
    assert floor_verdict(1.05) == 'target <= 1.05: met'
    assert floor_verdict(1.14) == 'target <= 1.05: MISSED by 0.09'
    assert floor_variants(['pseudo_collate']) == {
        'project': {}, 'project_pseudo_collate': {
            'train_dataloader.collate_fn': dict(type='pseudo_collate')}}


@pytest.mark.slow
def test_training_floor_mode(tiny_offline_root, tmp_path, monkeypatch):
    """The tool's --training-floor on the tiny mnist set: the floor and the
    project train the same samples; the ratios are the medians'."""
    import importlib.util
    monkeypatch.chdir(REPO)
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', osp.join(REPO, 'tools', 'benchmark.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'floor.json'
    report = tool.main([
        '--training-floor', '--floor-data-root',
        osp.join(tiny_offline_root, 'mnist'), '--batch-size', '50',
        '--floor-epochs', '2', '--floor-rounds', '1', '--out', str(out)])
    assert json.loads(out.read_text())['variants'].keys() == \
        report['variants'].keys() == {'plain_pytorch', 'project',
                                      'project_pseudo_collate'}
    for name, entry in report['variants'].items():
        (row, ) = entry['rounds']
        # 100 training images, batch 50: one timed epoch of 2 iterations
        assert (row['iterations'], row['samples']) == (2, 100), name
        assert positive(entry['wall_ms_per_sample'])
        assert positive(entry['step_ms'])
    floor = report['variants']['plain_pytorch']
    project = report['variants']['project']
    assert project['wall_ratio'] == pytest.approx(
        project['wall_ms_per_sample'] / floor['wall_ms_per_sample'])
    assert project['verdict'].startswith('target <= 1.05')
    receive = report['receive_cpu_ms_per_batch']
    assert set(receive) == {'plain_pytorch', 'pseudo_collate',
                            'stack_collate'}
    assert all(positive(v) for v in receive.values())


def test_stage_ratios_run_teacher_and_student_side_by_side(tmp_path):
    """tools/benchmark.py --stages: each dataset's teacher and student
    stage configs of a pipeline run, rerun as the pipeline runs them in the
    order teacher, student, student, teacher; a cached student builds its
    cache afresh in its own folder; the ratio is that of the summed CPU
    times, with each adjacent pair's."""
    from mlfd_mm.apis.benchmark.stages import (format_stage_ratios,
                                               run_stage_ratios)
    seed = tmp_path / 'seed0'
    for role, text in (
            ('teachers', "model = dict(type='ImageClassifier')\n"),
            ('students', "model = dict(type='MLFDDistiller', "
             "joint_output_cache=dict(root='/old/cache'))\n"
             "train_dataloader = dict(dataset=dict(type="
             "'CachedFeatureDataset', root='/old/cache', dataset=dict("
             "type='CustomDataset')))\n")):
        (seed / role / 'shapes').mkdir(parents=True)
        (seed / role / 'shapes' / 'config.py').write_text(text)
    cpu = iter([10., 11., 13., 12.])
    calls = []

    def fake_run(cmd, log_file):
        calls.append(cmd)
        if '--build-cache' in cmd:  # the copy reads and writes its own cache
            text = open(cmd[2]).read()
            run_dir = cmd[cmd.index('--work-dir') + 1]
            assert '/old/cache' not in text
            assert text.count(osp.join(run_dir, 'cache')) == 2
        return dict(wall_time_s=1., cpu_time_s=next(cpu))

    out = tmp_path / 'stages.json'
    report = run_stage_ratios(str(seed), out=str(out), run=fake_run)
    assert json.loads(out.read_text()) == report
    roles = ['teacher' if 'teachers' in c[2] else 'student' for c in calls]
    assert roles == ['teacher', 'student', 'student', 'teacher']
    for cmd in calls:
        assert cmd[1].endswith('tools/train.py') and '--test-best' in cmd
    student = calls[1]
    assert student[-2:] == ['--build-cache', 'force']
    run_dir = student[student.index('--work-dir') + 1]
    assert student[2] == osp.join(run_dir, 'config.py')  # a moved copy
    assert '--build-cache' not in calls[0]
    result = report['datasets']['shapes']
    assert result['teacher_cpu_s'] == [10., 12.]
    assert result['student_cpu_s'] == [11., 13.]
    assert result['cpu_ratio'] == pytest.approx(24 / 22)
    assert result['pair_cpu_ratios'] == pytest.approx([11 / 10, 13 / 12])
    assert result['met'] is True and result['wall_ratio'] == 1.
    assert 'shapes' in format_stage_ratios(report)
    with pytest.raises(FileNotFoundError,
                       match=r"teachers/cars/config.py: no stage config"):
        run_stage_ratios(str(seed), datasets=['cars'], run=fake_run)
    # the tool says what is missing, without a traceback
    from conftest import load_tool
    tool = load_tool('tools/benchmark.py')
    with pytest.raises(SystemExit, match=r"error: .*empty/students: no "
                       r"student stages"):
        tool.main(['--stages', str(tmp_path / 'empty')])
