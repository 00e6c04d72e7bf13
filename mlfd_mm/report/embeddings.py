"""Test-set embeddings of a pipeline run: penultimate features of the
dataset-specific model and of the exported student, and the joint teacher's
fused features, mapped to 2-D by t-SNE and scored.

The features come from the models the run saved (stage-1 best checkpoint,
the student's stock export, the joint teacher's best checkpoint) on the
stage's own test dataloader; image pipelines only (a video recognizer's
features are per clip and have no ``pre_logits`` stage).
"""
import os.path as osp
import time
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS
from torch.utils.data import DataLoader, Subset

from ..atomic_files import atomic_write
from ..checkpoint import (load_checkpoint_file, load_state_dict_strict,
                          state_dict_of)

# t-SNE's cost grows faster than the number of points: a test split larger
# than this is subsampled evenly (deterministically). The offline demo's
# splits (1,000-2,000 images) are drawn whole; its seven embeddings take
# about 25 s on two cores.
MAX_POINTS = 2000


def _build(cfg: Config, checkpoint: str, what: str):
    scope = cfg.get('default_scope', 'mmpretrain')
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') \
        else dict(cfg.model)
    model_cfg.setdefault('_scope_', scope)
    if 'data_preprocessor' not in model_cfg and cfg.get('data_preprocessor'):
        model_cfg['data_preprocessor'] = cfg.data_preprocessor
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    state = state_dict_of(load_checkpoint_file(checkpoint, what))
    load_state_dict_strict(model, state, what)
    return model.eval()


@torch.no_grad()
def stage_features(config: str, checkpoint: str, what: str,
                   kind: str = 'classifier',
                   max_points: int = MAX_POINTS) -> Dict[str, np.ndarray]:
    """Penultimate features of a model on its config's test split.

    Args:
        config (str): The stage's config file (``config.py`` of a stage
            work dir, or an export's ``student_config.py``).
        checkpoint (str): Its weights.
        what (str): What it is, for messages (e.g. ``'student mnist'``).
        kind (str): ``'classifier'`` (a stock classifier:
            ``extract_feat(stage='pre_logits')``) or ``'joint'`` (a
            JointTeacher: its heads' pooled fused features).
        max_points (int): Most samples kept.

    Returns:
        dict: ``features`` (N, D) float32, ``labels`` (N, ) int and
        ``datasets`` (N, ) str (the sample's dataset name, or '').
    """
    cfg = Config.fromfile(config)
    if not cfg.get('test_dataloader'):
        raise NoTestData(
            f'{what}: {config} has no test_dataloader, so there is no data '
            'to embed (an export made before its loaders were exportable: '
            'run tools/export_student.py on the stage again)')
    model = _build(cfg, checkpoint, what)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    # evenly spaced samples, so every class (and dataset) keeps its share
    step = max(1, -(-len(dataset) // max_points))
    loader = DataLoader(
        Subset(dataset, range(0, len(dataset), step)),
        batch_size=cfg.test_dataloader.get('batch_size', 64),
        collate_fn=pseudo_collate)
    feats, labels, names = [], [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        if kind == 'joint':
            out = model.head.pre_logits(model.extract_feat(inputs, samples))
        else:
            out = model.extract_feat(inputs, stage='pre_logits')
            out = out[-1] if isinstance(out, (tuple, list)) else out
        feats.append(out.flatten(1).float().cpu().numpy())
        labels += [int(s.gt_label.reshape(-1)[0]) for s in samples]
        names += [s.metainfo.get('dataset_name', '') for s in samples]
    return dict(features=np.concatenate(feats), labels=np.asarray(labels),
                datasets=np.asarray(names))


def tsne(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 2) t-SNE of the features (PCA start, fixed seed)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    x = features
    if x.shape[1] > 50:  # PCA first: t-SNE's cost grows with dimensions
        x = PCA(50, random_state=seed).fit_transform(x)
    perplexity = min(30.0, max(2.0, (len(x) - 1) / 3))
    return TSNE(2, init='pca', perplexity=perplexity, max_iter=500,
                random_state=seed).fit_transform(x).astype(np.float32)


def separation(points: np.ndarray, groups: np.ndarray) -> Dict[str, float]:
    """How separated the groups are on the embedding: silhouette score and
    leave-one-out 5-NN accuracy (percent)."""
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import KNeighborsClassifier
    if len(set(groups.tolist())) < 2:
        return dict(silhouette=float('nan'), knn=float('nan'))
    k = min(5, len(points) - 1)
    knn = KNeighborsClassifier(k + 1).fit(points, groups)
    # each point's nearest neighbour is itself: drop it
    idx = knn.kneighbors(points, return_distance=False)[:, 1:]
    votes = groups[idx]
    pred = np.array([np.bincount(v).argmax() if v.dtype.kind in 'iu'
                     else max(set(v), key=list(v).count) for v in votes])
    return dict(silhouette=float(silhouette_score(points, groups)),
                knn=float((pred == groups).mean() * 100))


def embed(features: Dict[str, np.ndarray], color_by: str = 'labels',
          seed: int = 0) -> Dict[str, np.ndarray]:
    """t-SNE of a feature set, with its separation score by ``color_by``."""
    points = tsne(features['features'], seed)
    groups = features[color_by]
    if groups.dtype.kind not in 'iu':
        _, groups = np.unique(groups, return_inverse=True)
    return dict(points=points, groups=groups,
                **separation(points, groups))


class NoTestData(ValueError):
    """A stage's config has no test loader to draw the embedding from."""


def save_embedding(path: str, embedding: Dict[str, np.ndarray]) -> None:
    """Write points, groups and scores to ``path`` (.npz), atomically."""
    atomic_write(path, lambda f: np.savez(f, **embedding), mode='wb')


def run_embeddings(run, seed: int, dataset: str,
                   progress=None) -> Dict[str, Optional[dict]]:
    """Embeddings of one dataset of one seed: ``specific`` and ``student``
    (coloured by class), each None when that stage is missing."""
    out = {}
    sources = (('specific', f'teachers/{dataset}', None),
               ('student', f'students/{dataset}', 'export'))
    for label, key, export in sources:
        record = run.records[seed].get(key)
        if record is None:
            out[label] = None
            continue
        stage_dir = run.stage_dir(seed, key)
        if export:
            config = osp.join(stage_dir, export, 'student_config.py')
            checkpoint = osp.join(stage_dir, export, 'student.pth')
            if not osp.isfile(checkpoint):
                out[label] = None
                continue
        else:
            config = osp.join(stage_dir, 'config.py')
            checkpoint = _record_path(record, stage_dir)
        start = time.time()
        try:
            feats = stage_features(config, checkpoint, f'{label} {dataset}')
        except NoTestData as err:
            # The rest of the report stands without this one picture.
            print(f'report: skipped an embedding: {err}', flush=True)
            out[label] = None
            continue
        out[label] = embed(feats, 'labels', seed)
        if progress:
            progress(f'{label} {dataset}: {len(feats["labels"])} points',
                     time.time() - start)
    return out


def joint_embedding(run, seed: int, progress=None) -> Optional[dict]:
    """The joint teacher's fused features, coloured by dataset."""
    record = run.records[seed].get('joint')
    if record is None:
        return None
    stage_dir = run.stage_dir(seed, 'joint')
    start = time.time()
    feats = stage_features(osp.join(stage_dir, 'config.py'),
                           _record_path(record, stage_dir), 'joint teacher',
                           kind='joint')
    result = embed(feats, 'datasets', seed)
    result['names'] = np.unique(feats['datasets'])
    if progress:
        progress(f'joint teacher: {len(feats["labels"])} points',
                 time.time() - start)
    return result


def _record_path(record: dict, stage_dir: str) -> str:
    """The checkpoint of a stage record (relative to the stage dir, or
    absolute as older records hold it)."""
    path = record['checkpoint']
    return path if osp.isabs(path) else osp.join(stage_dir, path)

