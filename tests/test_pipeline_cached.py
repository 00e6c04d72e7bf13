"""A pipeline whose joint teacher and student train from caches: each stage
builds its cache in its own directory, and every stage records its wall and
CPU time (stage_times.md)."""
import json

import pytest
from conftest import PYTHON, run_tool, write_tiny_pipeline

_WRAP = '''
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_r, split='train',
    dataset={{_base_.train_dataloader.dataset}}))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_r, split='val',
    dataset={{_base_.val_dataloader.dataset}}))
test_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_r, split='test',
    dataset={{_base_.test_dataloader.dataset}}))
'''


def write_cached_pipeline(tmp_path, root):
    pipe = write_tiny_pipeline(tmp_path, root)
    joint = tmp_path / 'joint_cached.py'
    joint.write_text(f"_base_ = ['{tmp_path / 'joint.py'}']\n_r = 'nowhere'\n"
                     'model = dict(feature_cache=dict(root=_r))\n' +
                     _WRAP)
    student = tmp_path / 'student_cached.py'
    # the student in the short form: its training loader follows the
    # cache option (its cache holds the training split only)
    student.write_text(
        f"_base_ = ['{tmp_path / 'student_mnist.py'}']\n"
        "model = dict(joint_output_cache=dict(root='nowhere'))\n")
    text = pipe.read_text().replace(str(tmp_path / 'joint.py'), str(joint))
    text = text.replace(str(tmp_path / 'student_mnist.py'), str(student))
    pipe.write_text(text.replace('"tiny"', '"tiny_cached"'))
    return pipe


@pytest.mark.slow
def test_cached_pipeline_builds_its_caches_and_records_times(
        tmp_path, tiny_offline_root):
    pipe = write_cached_pipeline(tmp_path, tiny_offline_root)
    work = tmp_path / 'work'
    run_tool(PYTHON, 'tools/run_pipeline.py', pipe, '--work-dir', work,
             '--no-report', timeout=900)
    seed = work / 'seed0'
    joint = json.loads((seed / 'joint' / 'stage.json').read_text())
    student = json.loads((seed / 'students' / 'mnist' /
                          'stage.json').read_text())
    teacher = json.loads((seed / 'teachers' / 'mnist' /
                          'stage.json').read_text())
    for record in (joint, student, teacher):
        assert record['cpu_time_s'] > 0 and record['wall_time_s'] > 0
    assert 'cache_cpu_time_s' not in teacher
    for stage, record in (('joint', joint), ('students/mnist', student)):
        assert 0 < record['cache_cpu_time_s'] < record['cpu_time_s']
        # built in the training process (tools/train.py --build-cache), not
        # in a second process of its own
        assert not (seed / stage / 'cache.out').exists()
        times = json.loads((seed / stage / 'cache_times.json').read_text())
        assert times['cpu_time_s'] == pytest.approx(
            record['cache_cpu_time_s'], abs=0.1)
        assert record['cpu_time_s'] == pytest.approx(
            record['cache_cpu_time_s'] + record['train_cpu_time_s'], abs=0.2)
    manifests = {stage: json.loads((seed / stage / 'cache' /
                                    'manifest.json').read_text())
                 for stage in ('joint', 'students/mnist')}
    assert manifests['joint'].get('kind', 'teacher_features') == \
        'teacher_features'
    assert manifests['students/mnist']['kind'] == 'joint_outputs'
    assert sorted(manifests['joint']['splits']) == ['test', 'train', 'val']
    assert list(manifests['students/mnist']['splits']) == ['train']
    # the student read the joint stage's checkpoint through its cache
    assert manifests['students/mnist']['joint']['checkpoint_sha256'] == \
        joint['checkpoint_sha256']
    config = (seed / 'students' / 'mnist' / 'config.py').read_text()
    assert str(seed / 'students' / 'mnist' / 'cache') in config
    assert "root='nowhere'" not in config
    times = (work / 'stage_times.md').read_text()
    assert '| 0 | students/mnist |' in times and 'teachers/mnist' in times
    assert 'results.md' not in times


def test_build_cache_refuses_a_launcher(tmp_path):
    """--build-cache builds in one process; under torchrun the builder's own
    process group would come before the Runner's, so it is refused with
    what to run instead, before anything is built or written."""
    from conftest import load_tool
    train = load_tool('tools/train.py')
    with pytest.raises(SystemExit, match=r'torchrun .*tools/cache_features'):
        train.main(['configs/mlfd/student_offline_mnist_cached.py',
                    '--work-dir', str(tmp_path / 'run'), '--build-cache',
                    '--launcher', 'pytorch'])
    assert not (tmp_path / 'run' / 'cache_times.json').exists()
