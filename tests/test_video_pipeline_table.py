"""mlfd_mm.apis.results_table (tools/run_pipeline.py) on video stages:
mmaction2's metric keys (fractions) and ours (percent) end up in one table
in percent, with acc@1 and mAP of the dataset-specific model, the joint
teacher and the student, and the gains. The image table is tested in
test_pipeline.py."""
import pytest
from mmengine.config import Config

from mlfd_mm.apis import metric_percent, write_results


def _single(top1, top5, mean_ap):
    """A video stage's test metrics: mmaction2's AccMAPMetric keys."""
    return dict(metrics={'acc/top1': top1, 'acc/top5': top5,
                         'acc/mean1': top1,
                         'acc/mean_average_precision': mean_ap})


def _joint(values):
    """The joint teacher's: MultiDatasetMetric keys, in percent."""
    metrics = {}
    for name, (top1, mean_ap) in values.items():
        metrics.update({f'{name}/accuracy_top1': top1,
                        f'{name}/accuracy_top5': 100.0,
                        f'{name}/mAP': mean_ap})
    return dict(metrics=metrics)


def _rows(text):
    return {line.split('|')[1].strip(): [c.strip() for c in
                                         line.strip('|').split('|')]
            for line in text.splitlines() if line.startswith('| ')}


def test_metric_percent_reads_every_toolboxs_keys():
    mmaction = {'acc/top1': 0.8611, 'acc/top5': 0.9965,
                'acc/mean_average_precision': 0.9012}
    assert metric_percent(mmaction, 'x', 'acc@1') == \
        pytest.approx(86.11)
    assert metric_percent(mmaction, 'x', 'acc@5') == \
        pytest.approx(99.65)
    assert metric_percent(mmaction, 'x', 'mAP') == \
        pytest.approx(90.12)
    mmpretrain = {'accuracy/top1': 91.1, 'accuracy/top5': 99.0}
    assert metric_percent(mmpretrain, 'x', 'acc@1') == 91.1
    assert metric_percent(mmpretrain, 'x', 'mAP') is None
    ours = {'motion/accuracy_top1': 70.0, 'motion/mAP': 75.5,
            'direction/accuracy_top1': 90.0}
    assert metric_percent(ours, 'motion', 'mAP') == 75.5
    assert metric_percent(ours, 'direction', 'acc@1') == 90.0
    assert metric_percent(ours, 'direction', 'mAP') is None


def test_video_table_shows_acc1_and_map_with_gains(tmp_path):
    pipe = Config(dict(name='video', teachers=dict(direction='d.py',
                                                   motion='m.py'),
                       joint_teacher='j.py',
                       students=dict(direction='sd.py', motion='sm.py')))
    records = {0: {
        'teachers/direction': _single(0.8611, 0.9965, 0.9100),
        'teachers/motion': _single(0.6067, 1.0, 0.6500),
        'joint': _joint(dict(direction=(90.0, 95.0), motion=(70.0, 75.0))),
        'students/direction': _single(0.8750, 1.0, 0.9300),
        'students/motion': _single(0.6000, 1.0, 0.7000),
    }}
    text = write_results(pipe, records, [0],
                                      str(tmp_path / 'results.md'))
    header = [line for line in text.splitlines()
              if line.startswith('| dataset')][0]
    assert [c.strip() for c in header.strip('|').split('|')] == [
        'dataset', 'specific acc@1', 'specific mAP', 'joint acc@1',
        'joint mAP', 'student acc@1', 'student mAP', 'gain acc@1',
        'gain mAP', 'student vs specific']
    rows = _rows(text)
    # mmaction2's fractions in percent; the joint's percent unchanged
    assert rows['direction'][1:] == ['86.11', '91.00', '90.00', '95.00',
                                     '87.50', '93.00', '1.39', '2.00',
                                     'beat (one seed: spread unknown)']
    assert rows['motion'][1:] == ['60.67', '65.00', '70.00', '75.00',
                                  '60.00', '70.00', '-0.67', '5.00',
                                  '**lost (one seed: spread unknown)**']
    # a worse student is reported as it is
    assert 'Mean student gain over datasets and seeds: +0.36 acc@1' in text
    assert 'Mean student mAP gain over datasets and seeds: +3.50 mAP' in text
    assert (tmp_path / 'results.md').read_text() == text


def test_video_table_over_seeds_and_missing_stage(tmp_path):
    pipe = Config(dict(name='video', teachers=dict(objmotion='o.py'),
                       students=dict(objmotion='s.py')))
    records = {
        0: {'teachers/objmotion': _single(0.70, 0.98, 0.80),
            'students/objmotion': _single(0.74, 0.99, 0.84)},
        1: {'teachers/objmotion': _single(0.72, 0.98, 0.82)},  # no student
    }
    text = write_results(pipe, records, [0, 1],
                                      str(tmp_path / 'r.md'))
    row = _rows(text)['objmotion']
    assert row[1:] == ['71.00 ± 1.41', '81.00 ± 1.41', '74.00', '84.00',
                       '4.00', '4.00', 'beat (one seed: spread unknown)']
    assert 'joint' not in text


def test_image_table_keeps_acc5_columns(tmp_path):
    """Without an mAP in the stages' metrics the table is the image one."""
    pipe = Config(dict(name='img', teachers=dict(a='a.py'),
                       students=dict(a='s.py')))
    records = {0: {'teachers/a': dict(metrics={'accuracy/top1': 80.0,
                                               'accuracy/top5': 95.0}),
                   'students/a': dict(metrics={'accuracy/top1': 82.5,
                                               'accuracy/top5': 96.0})}}
    text = write_results(pipe, records, [0],
                                      str(tmp_path / 'r.md'))
    assert '| dataset | specific acc@1 | specific acc@5 | student acc@1 | ' \
        'student acc@5 | gain acc@1 | student vs specific |' in text
    assert _rows(text)['a'][1:] == ['80.00', '95.00', '82.50', '96.00',
                                    '2.50', 'beat (one seed: spread unknown)']
    assert 'mAP' not in text
