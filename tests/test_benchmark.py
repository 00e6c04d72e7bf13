"""tools/benchmark.py: a tiny run checks the report's structure and figures,
and the peak-RSS method sees a known allocation."""
import importlib.util
import json
import math
import os.path as osp

import pytest

from conftest import REPO


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', osp.join(REPO, 'tools/benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return load_tool()


def positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and \
        value > 0


def test_benchmark_report(tool, tiny_offline_root, tmp_path, monkeypatch,
                          capsys):
    monkeypatch.chdir(REPO)  # the configs name files relative to the repo
    out = tmp_path / 'bench.json'
    roots = [f'{n}={osp.join(tiny_offline_root, n)}'
             for n in ('mnist', 'fashion', 'animals')]
    report = tool.main([
        '--batch-size', '4', '--steps', '2', '--warmup', '0',
        '--samples-per-dataset', '8', '--skip-rss', '--out', str(out),
        '--data-root', *roots
    ])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))

    joint = report['joint_step']
    assert set(joint['variants']) == {'joint_online', 'joint_cached',
                                      'joint_cached_pooled'}
    assert joint['variants']['joint_online']['ratio'] == 1.0
    for entry in joint['variants'].values():
        assert positive(entry['median_ms']) and positive(entry['ratio'])
        assert positive(entry['wall_median_ms'])
        assert len(entry['times_ms']) == len(entry['wall_times_ms']) == 2
    assert positive(joint['ratio_cached_vs_online'])
    assert joint['verdict'].startswith('target <= 0.25')

    student = report['student_step']
    assert student['dataset'] == 'mnist'
    assert set(student['variants']) == {'student_plain', 'student_online',
                                        'student_cached',
                                        'student_cached_pooled'}
    assert positive(student['ratio_online_vs_plain'])
    assert positive(student['ratio_cached_vs_plain'])

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
    table = capsys.readouterr().out
    assert 'cached / online = ' in table and 'cached / plain = ' in table


def test_peak_rss_sees_an_allocation(tool):

    def allocates_64_mb():
        block = bytearray(64 * 1024 * 1024)

        def step():
            block[::4096] = b'\1' * len(block[::4096])  # touch every page

        return step

    result = tool.peak_rss(allocates_64_mb)
    assert 60 <= result['added_mb'] <= 90, result
    assert result['peak_mb'] >= result['start_mb'] + 60
