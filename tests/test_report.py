"""The pipeline report: a tiny fake run (two datasets, two seeds, a few
epochs of mmengine scalars) and the figures' content."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from mlfd_mm.report import PipelineRun, epoch_curves, student_verdict
from mlfd_mm.report import figures
from mlfd_mm.report.embeddings import embed
from mlfd_mm.report.page import write_report

# seed -> stage -> acc@1 per dataset (percent, as our metrics log it)
ACC = {
    0: {'teachers/a': 80.0, 'teachers/b': 60.0, 'joint': (85.0, 66.0),
        'students/a': 83.0, 'students/b': 59.0},
    1: {'teachers/a': 82.0, 'teachers/b': 62.0, 'joint': (87.0, 68.0),
        'students/a': 85.0, 'students/b': 61.0},
}


def _metrics(key, seed):
    value = ACC[seed][key]
    if key == 'joint':
        return {'a/accuracy_top1': value[0], 'b/accuracy_top1': value[1]}
    return {'accuracy/top1': value}


def _scalars(stage_dir, key, epochs=3, timestamp='20260101_000000'):
    vis = osp.join(stage_dir, timestamp, 'vis_data')
    os.makedirs(vis)
    lines = []
    for epoch in range(1, epochs + 1):
        for it in range(2):
            entry = dict(epoch=epoch, iter=(epoch - 1) * 2 + it + 1,
                         step=(epoch - 1) * 2 + it + 1, lr=0.1,
                         loss=1.0 / epoch)
            if key.startswith('students/'):
                entry.update(loss_kd=0.5 / epoch, loss_ce=0.3 / epoch,
                             loss_feature_s3_l3=0.2 / epoch)
            lines.append(entry)
        val = {'step': epoch, 'data_time': 0.1}
        if key == 'joint':
            val.update({'a/accuracy_top1': 50.0 + epoch,
                        'b/accuracy_top1': 40.0 + epoch})
        else:
            val['accuracy/top1'] = 30.0 + epoch
        lines.append(val)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write('\n'.join(json.dumps(e) for e in lines) + '\n')


def make_run(root, seeds=(0, 1), skip=()):
    for seed in seeds:
        for key in ACC[seed]:
            stage_dir = osp.join(root, f'seed{seed}', *key.split('/'))
            os.makedirs(stage_dir)
            open(osp.join(stage_dir, 'config.py'), 'w').close()
            _scalars(stage_dir, key)
            if (seed, key) in skip:
                continue
            with open(osp.join(stage_dir, 'stage.json'), 'w') as f:
                json.dump(dict(key=key, seed=seed, checkpoint='best.pth',
                               metrics=_metrics(key, seed)), f)
    return str(root)


def test_results_bars_heights_and_spread(tmp_path):
    run = PipelineRun(make_run(tmp_path))
    assert run.seeds == [0, 1]
    assert run.datasets == ['a', 'b']
    fig, bars = figures.results_bars(run)
    assert set(bars) == {'a', 'b'}
    mean, std, n = bars['a']['specific']
    assert (mean, n) == (81.0, 2) and std == pytest.approx(2 ** 0.5)
    assert bars['b']['joint teacher'][0] == 67.0
    assert bars['a']['student'][0] == 84.0
    # one bar container per stage row, one bar per dataset, drawn heights
    containers = fig.axes[0].containers
    heights = {c.get_label(): [p.get_height() for p in c.patches]
               for c in containers if hasattr(c, 'patches')}
    assert heights['specific'] == [81.0, 61.0]
    assert heights['student'] == [84.0, 60.0]
    figures.close(fig)


def test_one_seed_says_spread_unknown(tmp_path):
    run = PipelineRun(make_run(tmp_path, seeds=(0, )))
    fig, bars = figures.results_bars(run)
    assert bars['a']['specific'] == (80.0, None, 1)
    assert 'spread unknown' in fig.axes[0].get_title()
    # no error bars drawn when the spread is unknown
    assert not any(c.errorbar for c in fig.axes[0].containers
                   if hasattr(c, 'errorbar') and c.errorbar is not None)
    figures.close(fig)
    index = write_report(str(tmp_path), embeddings=False,
                         stream=open(os.devnull, 'w'))
    assert 'spread over seeds is unknown' in open(index).read()


def test_curves_one_line_per_stage(tmp_path):
    run = PipelineRun(make_run(tmp_path))
    fig, lines = figures.dataset_curves(run, 'a', seed=0)
    assert sorted(lines['acc']) == ['joint', 'students/a', 'teachers/a']
    epochs, values = lines['acc']['joint']
    assert epochs == [1, 2, 3] and values == [51.0, 52.0, 53.0]
    # the student's terms drawn separately, its total left out
    assert 'students/a loss_kd' in lines['loss']
    assert 'students/a loss_feature_s3_l3' in lines['loss']
    assert 'students/a loss' not in lines['loss']
    assert lines['loss']['students/a loss_kd'][1] == pytest.approx(
        [0.5, 0.25, 0.5 / 3])
    gids = figures.figure_lines(fig)
    assert sum(g.startswith('acc:') for g in gids) == 3
    figures.close(fig)


def test_epoch_curves_resumed_run_and_torn_line(tmp_path):
    stage = tmp_path / 'stage'
    _scalars(str(stage), 'teachers/a', epochs=2, timestamp='20260101_000000')
    _scalars(str(stage), 'teachers/a', epochs=3, timestamp='20260102_000000')
    with open(stage / '20260102_000000' / 'vis_data' / 'scalars.json',
              'a') as f:
        f.write('{"step": 4, "accuracy/to')  # killed mid-write
    from mlfd_mm.report import read_scalars
    val, train = epoch_curves(read_scalars(str(stage)))
    assert sorted(val['accuracy/top1']) == [1, 2, 3]
    assert train['loss'][2] == 0.5


def test_missing_stage_named_and_report_written(tmp_path):
    root = make_run(tmp_path, skip={(1, 'students/b')})
    run = PipelineRun(root)
    assert run.missing() == [(1, 'students/b')]
    assert run.metric('students/b', 'b', 'acc@1') == [59.0]
    index = write_report(root, embeddings=False,
                         stream=open(os.devnull, 'w'))
    page = open(index).read()
    assert 'seed 1: students/b' in page
    for name in ('results.png', 'curves_a.png', 'curves_b.png'):
        assert osp.getsize(osp.join(root, 'report', name)) > 1000
        assert f'src="{name}"' in page
    assert 'http' not in page.replace('http-equiv', '')  # offline page


def test_student_verdict():
    assert student_verdict([80, 82], [85, 86])[0].startswith('beat')
    tied = student_verdict([80, 82], [79, 83])[0]
    # a cell of the results table: a '|' would split it
    assert tied == 'tied (gain within ±2.83, the seed spread)'
    verdict, gain = student_verdict([80, 81], [70, 71])
    assert verdict.startswith('lost') and gain == -10
    assert 'spread unknown' in student_verdict([80], [79])[0]


def test_embedding_one_point_per_sample_and_separation():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    centres = rng.normal(size=(3, 16)) * 10
    separated = dict(features=centres[labels] + rng.normal(size=(120, 16)),
                     labels=labels)
    mixed = dict(features=rng.normal(size=(120, 16)), labels=labels)
    a, b = embed(separated), embed(mixed)
    assert a['points'].shape == (120, 2)
    assert list(a['groups']) == list(labels)
    assert a['knn'] > 95 and a['silhouette'] > 0.5
    assert b['knn'] < 70 and b['silhouette'] < a['silhouette']


def _chromium():
    import shutil
    return shutil.which('chromium') or shutil.which('chromium-browser')


@pytest.mark.skipif(not _chromium(), reason='no Chromium here (Debian '
                    '`chromium`): the page is not rendered')
def test_page_renders_in_headless_chromium(tmp_path):
    import subprocess

    import matplotlib.image as mpimg
    root = make_run(tmp_path / 'run')
    index = write_report(root, embeddings=False,
                         stream=open(os.devnull, 'w'))
    shot = str(tmp_path / 'shot.png')
    subprocess.run(
        [_chromium(), '--headless', '--no-sandbox', '--disable-gpu',
         '--hide-scrollbars', f'--screenshot={shot}',
         '--window-size=1100,900', f'file://{osp.abspath(index)}'],
        check=True, capture_output=True, timeout=120)
    pixels = mpimg.imread(shot)[..., :3]
    # the charts are drawn: many coloured (non-grey) pixels, as matplotlib's
    # default bar colours are, in the upper part of the page
    saturation = pixels.max(axis=-1) - pixels.min(axis=-1)
    assert (saturation[:600] > 0.3).sum() > 2000


def test_amtml_teacher_weights_drawn_per_teacher(tmp_path):
    """An AMTML-KD stage logs ``mu_<teacher>`` each iteration: the report
    draws their per-epoch means, one line per teacher."""
    root = make_run(tmp_path, seeds=(0, ))
    vis = osp.join(root, 'seed0', 'students', 'a', '20260101_000000',
                   'vis_data', 'scalars.json')
    entries = [dict(epoch=e, iter=i, step=i, loss_kd=0.1,
                    mu_resnet=0.2 + 0.1 * e, mu_tinynet=0.8 - 0.1 * e)
               for e, i in ((1, 1), (1, 2), (2, 3))]
    with open(vis, 'w') as f:
        f.write('\n'.join(json.dumps(e) for e in entries) + '\n')
    from mlfd_mm.report.page import _teacher_weights
    mu = _teacher_weights(PipelineRun(root), 0)
    assert list(mu) == ['students/a']
    assert mu['students/a']['resnet'] == pytest.approx({1: 0.3, 2: 0.4})
    fig = figures.weight_curves(mu['students/a'])
    assert sorted(figures.figure_lines(fig)) == ['mu:resnet', 'mu:tinynet']
    figures.close(fig)
    index = write_report(root, embeddings=False,
                         stream=open(os.devnull, 'w'))
    assert 'src="mu_students_a.png"' in open(index).read()


def test_a_stage_config_without_test_data_is_named_not_embedded(tmp_path):
    """An export without loaders (as cached students' were before their
    loaders became exportable) is named with what to do, and the report's
    embeddings skip it instead of dying after every stage has finished."""
    from mlfd_mm.report.embeddings import NoTestData, stage_features
    config = tmp_path / 'student_config.py'
    config.write_text("model = dict(type='ImageClassifier')\n")
    with pytest.raises(NoTestData, match=r'student_config\.py has no '
                       r'test_dataloader.*export_student\.py'):
        stage_features(str(config), str(tmp_path / 'student.pth'),
                       'student mnist')
