"""``python tools/run_pipeline.py configs/pipelines/t1.py`` as a user runs
it, on tiny copies of CIFAR-100, TinyImageNet and ImageNet-Sketch in their
official layouts kept outside the repository ($MLFD_DATA_ROOT): the
converters, then all three stages (the three 224 px teachers, the joint
teacher, the three students) at a one-epoch budget, and the results
table. Without the data, the same command stops before any stage naming
each missing folder (tests/test_dataset_converters.py)."""
import json
import os
import os.path as osp

import pytest

from conftest import PYTHON, REPO, load_tool, run_tool
from paper_data import (TINY_VAL, make_cifar100, make_imagenet_sketch,
                        make_tiny_imagenet)

T1 = osp.join(REPO, 'configs', 'pipelines', 't1.py')
DATASETS = ('cifar100', 'tiny_imagenet', 'imagenet_sketch')
# One epoch of one 9-image batch per stage, in the stage process, without
# the paper's schedules (a cosine phase from epoch 1 has no room in one
# epoch). unchecked_cifar: the synthetic pickles are not the release's, so
# mmpretrain's md5 checks are off in the stages.
TINY = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'param_scheduler=[]', 'train_dataloader.batch_size=9',
        'custom_imports.imports=[mlfd_mm,unchecked_cifar]'] + [
    f'{split}_dataloader.{key}'
    for split in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False')]


def _table_rows(text):
    """dataset -> the numbers of its row in results.md's first table."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if cells[0] in DATASETS:
            rows[cells[0]] = [float(c) for c in cells[1:8]]
    return rows


@pytest.mark.slow
def test_t1_pipeline_runs_on_tiny_copies_of_its_datasets(tmp_path,
                                                         monkeypatch):
    data = tmp_path / 'datasets'
    make_cifar100(data, train_labels=(0, 1, 2), test_labels=(0, 1, 2))
    make_tiny_imagenet(data, val=TINY_VAL[:3], size=16)
    make_imagenet_sketch(data, dict(n01=3, n02=3, n03=3), size=16)
    # The converters find the data through $MLFD_DATA_ROOT, as the configs.
    monkeypatch.setenv('MLFD_DATA_ROOT', str(data))
    load_tool('tools/dataset_converters/tiny_imagenet.py').main([])
    load_tool('tools/dataset_converters/imagenet_sketch.py').main([])
    assert (data / 'tiny-imagenet-200' / 'val' / 'val_labels.txt').exists()
    assert (data / 'imagenet-sketch' / 'meta' / 'test.txt').exists()

    work = tmp_path / 'work'
    run_tool(PYTHON, 'tools/run_pipeline.py', T1, '--work-dir', work,
             '--no-report', '--cfg-options', *TINY,
             env=dict(MLFD_DATA_ROOT=str(data), PYTHONPATH=os.pathsep.join(
                 [REPO, osp.join(REPO, 'tests')])), timeout=1800)

    # Every stage finished and left its record; students are exported.
    seed = work / 'seed0'
    keys = [f'teachers/{d}' for d in DATASETS] + ['joint'] + [
        f'students/{d}' for d in DATASETS]
    records = {k: json.loads((seed / k / 'stage.json').read_text())
               for k in keys}
    for key, record in records.items():
        assert record['key'] == key
        assert (seed / key / record['checkpoint']).is_file(), key
        assert record['wall_time_s'] > 0, key
    assert all((seed / 'students' / d / 'export' / 'student.pth').is_file()
               for d in DATASETS)
    # The stages read the copies under $MLFD_DATA_ROOT.
    assert f"{data}/cifar100" in (
        seed / 'teachers' / 'cifar100' / 'config.py').read_text()
    # Each test split holds 3 images: every accuracy is k/3.
    joint = records['joint']['metrics']
    assert {f'{d}/accuracy_top1' for d in DATASETS} <= set(joint)

    def thirds(x):
        return 0 <= x <= 100 and abs(x * 3 / 100 - round(x * 3 / 100)) < 1e-3

    rows = _table_rows((work / 'results.md').read_text())
    assert sorted(rows) == sorted(DATASETS)
    for dataset, numbers in rows.items():
        # specific, joint and student acc@1/acc@5, then the student's gain
        *accuracies, gain = numbers
        assert all(thirds(x) for x in accuracies), (dataset, numbers)
        assert gain == pytest.approx(accuracies[4] - accuracies[0], abs=0.02)
        assert accuracies[0] == pytest.approx(
            records[f'teachers/{dataset}']['metrics']['accuracy/top1'],
            abs=0.01)
    # ~2 GB of 224 px checkpoints: not kept once checked
    for path in work.rglob('*.pth'):
        path.unlink()
