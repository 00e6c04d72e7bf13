"""tools/dataset_converters/: each converter on a tiny fixture in the
official archive layout (a few 8 px JPEGs written here), the files it
writes, the dataset the config then builds from them, and the errors on a
missing or malformed file."""
import json
import os
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)
import pytest
from conftest import REPO, load_tool
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS

from mlfd_mm.apis.dataset_converters import (DatasetLayoutError,
                                              caltech101_split,
                                              imagenet_sketch_split,
                                              tiny_imagenet_val_labels)
from paper_data import (SKETCH_CLASSES, make_cifar100, make_imagenet_sketch,
                        make_tiny_imagenet, write_jpeg)

DATASET_CONFIGS = osp.join(REPO, 'configs', '_base_', 'datasets')


def _lines(path):
    with open(path) as f:
        return f.read().splitlines()


def _tool(name, folder='tools/dataset_converters'):
    return load_tool(f'{folder}/{name}.py')


def _build(config, root, loader):
    cfg = Config.fromfile(osp.join(DATASET_CONFIGS, config))
    dataset = cfg[loader].dataset.to_dict()
    dataset.update(data_root=str(root), pipeline=[])
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(dataset)


# ---------------------------------------------------------------------------
# CIFAR-100: nothing to convert
# ---------------------------------------------------------------------------
def test_cifar100_copy_reads_as_the_release(tmp_path, request):
    """The official pickles as paper_data writes them read through the
    config's CIFAR100 once its md5 checks are off, and not before: a
    synthetic copy is not the release."""
    root = make_cifar100(tmp_path, train_labels=(5, 0, 99),
                         test_labels=(7, ))
    with pytest.raises(RuntimeError, match='Cannot find CIFAR100 dataset'):
        _build('cifar100.py', root, 'train_dataloader')
    request.getfixturevalue('cifar_checksums_off')
    train = _build('cifar100.py', root, 'train_dataloader')
    assert [train.get_data_info(i)['gt_label'] for i in range(3)] == [5, 0,
                                                                      99]
    assert train.get_data_info(0)['img'].shape == (32, 32, 3)
    assert len(_build('cifar100.py', root, 'test_dataloader')) == 1


# ---------------------------------------------------------------------------
# TinyImageNet
# ---------------------------------------------------------------------------
@pytest.fixture
def tiny_root(tmp_path):
    return make_tiny_imagenet(tmp_path)


def test_tiny_imagenet_val_labels(tiny_root, capsys):
    _tool('tiny_imagenet').main([str(tiny_root)])
    labels = tiny_root / 'val' / 'val_labels.txt'
    # sorted wnids: n01 -> 0, n02 -> 1, n03 -> 2
    assert _lines(labels) == ['val_0.JPEG 2', 'val_1.JPEG 0', 'val_2.JPEG 1',
                              'val_3.JPEG 2']
    assert f'{labels}: 4 validation images, 3 classes' in capsys.readouterr(
    ).out
    # the config's datasets read the result with the same class indices
    val = _build('tiny_imagenet.py', tiny_root, 'val_dataloader')
    assert [val.get_data_info(i)['gt_label'] for i in range(4)] == [2, 0, 1,
                                                                     2]
    train = _build('tiny_imagenet.py', tiny_root, 'train_dataloader')
    assert sorted(train.get_data_info(i)['gt_label']
                  for i in range(len(train))) == [0, 1, 2]


def test_tiny_imagenet_errors_name_the_file(tiny_root):
    ann = tiny_root / 'val' / 'val_annotations.txt'
    text = ann.read_text()
    ann.write_text(text + 'val_9.JPEG\n')
    with pytest.raises(DatasetLayoutError, match=f'{ann}, line 5: expected'):
        tiny_imagenet_val_labels(str(tiny_root))
    ann.write_text(text.replace('n02', 'n09'))
    with pytest.raises(DatasetLayoutError,
                       match="line 3: wnid 'n09' has no folder"):
        tiny_imagenet_val_labels(str(tiny_root))
    ann.write_text(text)
    os.remove(tiny_root / 'val' / 'images' / 'val_1.JPEG')
    with pytest.raises(DatasetLayoutError, match='line 2: image not found'):
        tiny_imagenet_val_labels(str(tiny_root))
    ann.unlink()
    with pytest.raises(SystemExit,
                       match=f'error: TinyImageNet: file not found: {ann}'):
        _tool('tiny_imagenet').main([str(tiny_root)])
    (tiny_root / 'wnids.txt').write_text('n01\nn02\n')
    with pytest.raises(DatasetLayoutError, match='not the wnids of'):
        tiny_imagenet_val_labels(str(tiny_root))
    missing = tiny_root.parent / 'nowhere'
    with pytest.raises(DatasetLayoutError,
                       match=f'folder not found: {missing}/train'):
        tiny_imagenet_val_labels(str(missing))
    assert not (tiny_root / 'val' / 'val_labels.txt').exists()


# ---------------------------------------------------------------------------
# ImageNet-Sketch
# ---------------------------------------------------------------------------
SKETCH = SKETCH_CLASSES  # images per class: n01 20, n02 10, n03 5


def _sketch_root(tmp_path, classes=SKETCH):
    return make_imagenet_sketch(tmp_path, classes)


def _by_class(lines):
    out = {}
    for line in lines:
        path, label = line.split()
        out.setdefault(path.split('/')[0], []).append((path, int(label)))
    return out


def test_imagenet_sketch_split(tmp_path, capsys):
    root = _sketch_root(tmp_path)
    _tool('imagenet_sketch').main([str(root)])
    meta = root / 'meta'
    splits = {s: _lines(meta / f'{s}.txt') for s in ('train', 'val', 'test')}
    # 70/10/20 % of each class: 20 -> 14/2/4, 10 -> 7/1/2, 5 -> 3/1/1
    expected = dict(n01=(14, 2, 4), n02=(7, 1, 2), n03=(3, 1, 1))
    for wnid, counts in expected.items():
        got = tuple(len(_by_class(splits[s]).get(wnid, []))
                    for s in ('train', 'val', 'test'))
        assert got == counts, wnid
    everything = [p for s in splits.values() for p, _ in
                  (line.split() for line in s)]
    assert len(everything) == len(set(everything)) == 35
    assert {p for p in everything} == {
        f'{w}/sketch_{k}.JPEG' for w, n in SKETCH.items() for k in range(n)}
    # class index = position of the wnid in the sorted folder names
    for s in splits.values():
        for wnid, items in _by_class(s).items():
            assert {label for _, label in items} == {
                sorted(SKETCH).index(wnid)}
    info = json.loads((meta / 'split.json').read_text())
    assert info == dict(dataset='ImageNet-Sketch', seed=0,
                        fractions=[0.7, 0.1, 0.2], classes=3,
                        counts=dict(train=24, val=4, test=7))
    out = capsys.readouterr().out
    assert 'images: train 24, val 4, test 7 (seed 0)' in out
    # the config's three datasets read the files
    for loader, n in (('train_dataloader', 24), ('val_dataloader', 4),
                      ('test_dataloader', 7)):
        assert len(_build('imagenet_sketch.py', root, loader)) == n


def test_imagenet_sketch_split_is_fixed(tmp_path):
    root = _sketch_root(tmp_path)
    imagenet_sketch_split(str(root))
    first = {s: _lines(root / 'meta' / f'{s}.txt') for s in ('train', 'val')}
    imagenet_sketch_split(str(root))
    assert first == {s: _lines(root / 'meta' / f'{s}.txt')
                     for s in ('train', 'val')}
    # a class's split depends on its own files only (labels aside)
    other = _sketch_root(tmp_path / 'other', dict(n01=20, n00=4))
    imagenet_sketch_split(str(other))
    assert [p for p, _ in _by_class(_lines(other / 'meta/val.txt'))['n01']] \
        == [p for p, _ in _by_class(first['val'])['n01']]
    # another seed, another split
    imagenet_sketch_split(str(root), seed=1)
    assert _lines(root / 'meta' / 'train.txt') != first['train']


def test_imagenet_sketch_errors(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(SystemExit, match=f'error: ImageNet-Sketch: folder '
                       f'not found: {missing}/sketch'):
        _tool('imagenet_sketch').main([str(missing)])
    root = _sketch_root(tmp_path, dict(n01=5, n02=2))
    with pytest.raises(DatasetLayoutError,
                       match=f'{root}/sketch/n02 holds 2 images'):
        imagenet_sketch_split(str(root))
    with pytest.raises(ValueError, match='sum to 1'):
        imagenet_sketch_split(str(root), fractions=(0.5, 0.1, 0.1))
    os.makedirs(tmp_path / 'empty' / 'sketch')
    with pytest.raises(DatasetLayoutError, match='no class folders'):
        imagenet_sketch_split(str(tmp_path / 'empty'))


# ---------------------------------------------------------------------------
# Caltech-101
# ---------------------------------------------------------------------------
def test_caltech101_split(tmp_path, capsys):
    root = tmp_path / 'caltech-101'
    for name, n in (('accordion', 5), ('Faces', 4), ('BACKGROUND_Google', 3)):
        for k in range(n):
            write_jpeg(root / '101_ObjectCategories' / name /
                       f'image_{k:04d}.jpg')
    _tool('caltech101').main([str(root), '--train-per-class', '2'])
    train = _lines(root / 'meta' / 'train.txt')
    test = _lines(root / 'meta' / 'test.txt')
    # mmpretrain's class order: the sorted (case-sensitive) folder names
    for lines, per_class in ((train, (2, 2, 2)), (test, (1, 2, 3))):
        by_class = _by_class(lines)
        assert tuple(len(by_class[c]) for c in (
            'BACKGROUND_Google', 'Faces', 'accordion')) == per_class
        for c, label in (('BACKGROUND_Google', 0), ('Faces', 1),
                         ('accordion', 2)):
            assert {lab for _, lab in by_class[c]} == {label}
    assert not set(train) & set(test)
    info = json.loads((root / 'meta' / 'split.json').read_text())
    assert info['counts'] == dict(train=6, test=6)
    assert info['train_per_class'] == 2
    assert 'images: train 6, test 6' in capsys.readouterr().out
    assert len(_build('caltech101.py', root, 'train_dataloader')) == 6
    with pytest.raises(DatasetLayoutError,
                       match='BACKGROUND_Google holds 3 images; a class '
                       'needs more than 3'):
        caltech101_split(str(root), train_per_class=3)


# ---------------------------------------------------------------------------
# A pipeline without its data
# ---------------------------------------------------------------------------
PIPELINES = osp.join(REPO, 'configs', 'pipelines')
T1 = osp.join(PIPELINES, 't1.py')


def test_missing_pipeline_data_names_each_folder_and_its_command(
        tmp_path, monkeypatch):
    from mlfd_mm.apis.dataset_converters import (check_pipeline_data,
                                                  missing_pipeline_data)
    monkeypatch.delenv('MLFD_DATA_ROOT', raising=False)
    missing = missing_pipeline_data(T1, str(tmp_path))
    assert [m['root'] for m in missing] == [
        'data/cifar100', 'data/tiny-imagenet-200', 'data/imagenet-sketch']
    tiny = missing[1]
    assert tiny['path'] == str(tmp_path / 'data' / 'tiny-imagenet-200')
    assert tiny['stages'] == ['teachers/tiny_imagenet',
                              'students/tiny_imagenet']
    assert tiny['prepare'].endswith(
        'python tools/dataset_converters/tiny_imagenet.py '
        'data/tiny-imagenet-200')
    with pytest.raises(FileNotFoundError) as error:
        check_pipeline_data(T1, str(tmp_path))
    message = str(error.value)
    assert '3 dataset folder(s) missing' in message
    assert 'data/imagenet-sketch (resolved to' in message
    assert 'tools/dataset_converters/imagenet_sketch.py' in message
    assert 'set MLFD_DATA_ROOT to the folder that holds them' in message
    # unpacked but not converted: still named, with the file not written
    data = tmp_path / 'data'
    for root in ('cifar100', 'tiny-imagenet-200', 'imagenet-sketch'):
        os.makedirs(data / root)
    with pytest.raises(FileNotFoundError) as error:
        check_pipeline_data(T1, str(tmp_path))
    message = str(error.value)
    assert '2 dataset folder(s) missing or not converted' in message
    assert ('data/tiny-imagenet-200 (converter not run: no '
            f'{data}/tiny-imagenet-200/val/val_labels.txt') in message
    assert f'no {data}/imagenet-sketch/meta/train.txt' in message
    assert 'cifar100' not in message
    os.makedirs(data / 'imagenet-sketch' / 'meta')
    (data / 'imagenet-sketch' / 'meta' / 'train.txt').touch()
    os.makedirs(data / 'tiny-imagenet-200' / 'val')
    (data / 'tiny-imagenet-200' / 'val' / 'val_labels.txt').touch()
    check_pipeline_data(T1, str(tmp_path))


@pytest.mark.parametrize('pipeline', ['t1', 't3', 't4'])
def test_pipeline_data_roots_follow_MLFD_DATA_ROOT(pipeline, tmp_path,
                                                     monkeypatch):
    """Every dataset of the paper's pipelines is read from
    $MLFD_DATA_ROOT/<folder> where it is set (no config edited)."""
    from mlfd_mm.apis.dataset_converters import missing_pipeline_data
    monkeypatch.setenv('MLFD_DATA_ROOT', str(tmp_path))
    missing = missing_pipeline_data(osp.join(PIPELINES, f'{pipeline}.py'))
    assert len(missing) == (4 if pipeline == 't3' else 3)
    for entry in missing:
        assert osp.dirname(entry['path']) == str(tmp_path), entry
        assert entry['prepare'] is not None, entry


def test_run_pipeline_tool_without_data_names_the_folders(tmp_path,
                                                           monkeypatch):
    """tools/run_pipeline.py stops before any stage, naming every missing
    dataset folder of the pipeline and the command that makes it."""
    data = tmp_path / 'datasets'
    make_cifar100(data)  # the one that is there
    monkeypatch.setenv('MLFD_DATA_ROOT', str(data))
    with pytest.raises(SystemExit) as error:
        _tool('run_pipeline', 'tools').main(
            [T1, '--work-dir', str(tmp_path / 'work'), '--no-report'])
    message = str(error.value)
    assert message.startswith(f'error: {T1}: 2 dataset folder(s) missing')
    for name, converter in (('tiny-imagenet-200', 'tiny_imagenet'),
                            ('imagenet-sketch', 'imagenet_sketch')):
        assert f'  {data}/{name} (resolved to {data}/{name}; read by ' \
            in message
        assert (f'python tools/dataset_converters/{converter}.py '
                f'{data}/{name}') in message
    assert 'cifar100' not in message
    assert 'MLFD_DATA_ROOT' not in message  # it is set
    assert not (tmp_path / 'work' / 'seed0').exists()  # no stage started
