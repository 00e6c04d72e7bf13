"""The benchmarked variants: the joint teacher with its teachers online or
their features from the cache, and the MLFD student with the joint teacher
online or cached against a plain supervised student (the floor). Each
variant is built as a step function over pre-loaded batches."""
import copy
import itertools
import os.path as osp
import random
from functools import partial

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, MODELS

from ...cache import CachedFeatureDataset
from ...config import as_dict, resolve_model_config
from ...datasets import MultiDatasetWrapper
from ...datasets.multi_dataset import resolve_dataset_config
from ...models.distillers.student import student_data_preprocessor


class FirstSamples:
    """The first ``n`` samples of a dataset (with ``get_data_info``, so the
    cache's dataset identity covers exactly them)."""

    def __init__(self, dataset, n: int):
        self.dataset = dataset
        self.n = min(int(n), len(dataset))

    @property
    def metainfo(self):
        return getattr(self.dataset, 'metainfo', {})

    def __len__(self):
        return self.n

    def _check(self, idx):
        if not 0 <= idx < self.n:
            raise IndexError(idx)

    def __getitem__(self, idx):
        self._check(idx)
        return self.dataset[idx]

    def get_data_info(self, idx):
        self._check(idx)
        return self.dataset.get_data_info(idx)


def joint_datasets(cfg, split_pipeline, n, data_roots):
    """The joint config's training datasets (their first ``n`` samples),
    with the 'train' or the 'test' pipeline: ``{name: dataset}``.
    ``data_roots`` (name -> path) overrides the configs' data roots."""
    wrapper = as_dict(cfg.train_dataloader.dataset)
    test = as_dict(cfg.test_dataloader.dataset)
    out = {}
    for name, entry, test_entry in zip(wrapper['names'], wrapper['datasets'],
                                       test['datasets']):
        dataset_cfg = resolve_dataset_config(entry)
        if split_pipeline == 'test':
            dataset_cfg['pipeline'] = resolve_dataset_config(
                test_entry)['pipeline']
        if name in data_roots:
            dataset_cfg['data_root'] = data_roots[name]
        dataset_cfg['serialize_data'] = False  # skips a slow gc.collect()
        out[name] = FirstSamples(DATASETS.build(dataset_cfg), n)
    return out


def batches(dataset, batch_size: int, count: int, seed: int) -> list:
    """``count`` pseudo-collated batches of random samples."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        idx = [rng.randrange(len(dataset)) for _ in range(batch_size)]
        out.append(pseudo_collate([dataset[i] for i in idx]))
    return out


def joint_model_cfg(cfg, checkpoints) -> tuple:
    """The JointTeacher model config with usable checkpoints (``checkpoints``:
    name -> path overrides the config's), and what each teacher's weights
    are (a path, or 'random' where no file exists)."""
    model = as_dict(cfg.model)
    model.pop('feature_cache', None)
    weights = {}
    for teacher in model['teachers']:
        name = teacher['name']
        path = checkpoints.get(name, teacher.get('checkpoint'))
        if path and osp.isfile(path):
            teacher['checkpoint'] = path
            weights[name] = path
        else:
            teacher['checkpoint'] = None
            weights[name] = f'random (no file at {path})'
    return model, weights


def make_step(model, optimizer, batch_list):
    """One training step of ``model`` on the next batch (cycled): data
    preprocessor, forward, backward, optimiser step."""
    cycle = itertools.cycle(batch_list)

    def step():
        data = model.data_preprocessor(next(cycle), True)
        losses = model(data['inputs'], data['data_samples'], mode='loss')
        loss, _ = model.parse_losses(losses)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def _trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


class Variants:
    """Builders of every benchmarked variant: each returns a step function
    (model, optimiser and batches built inside, so that a forked child
    measures what the variant allocates).

    Args:
        joint_cfg (dict): the JointTeacher model config.
        student_cfg (dict): the MLFDDistiller model config.
        cache_root (str): a float16 cache of the training samples.
        pooled_root (str): the same with ``pool='min'``.
        joint_train (dict): name -> training dataset of the joint teacher.
        student_train: the student's training dataset.
        student_name (str): the student's dataset name.
        batch_size (int): samples per step.
        seed (int): seeds the teachers' random weights and the batches.
        joint_output (dict, optional): ``dict(checkpoint=..., roots={dtype:
            root})`` from :func:`build_joint_output_caches`: adds the
            students trained from the joint-output cache.
    """

    def __init__(self, joint_cfg, student_cfg, cache_root, pooled_root,
                 joint_train, student_train, student_name, batch_size, seed,
                 joint_output=None):
        self.joint_output = joint_output
        self.joint_cfg = joint_cfg
        self.student_cfg = student_cfg
        self.cache_root = cache_root
        self.pooled_root = pooled_root
        self.joint_train = joint_train
        self.student_train = student_train
        self.student_name = student_name
        self.batch_size = batch_size
        self.seed = seed
        self.count = 2  # batches per variant, cycled

    def builders(self):
        """Variant name -> builder, in the order they are timed."""
        return dict(
            joint_online=partial(self.joint, cached=False),
            joint_cached=partial(self.joint, cached=True),
            joint_cached_pooled=partial(self.joint, cached=True, pooled=True),
            student_plain=self.plain_student,
            student_online=partial(self.distiller, cached=False),
            student_cached=partial(self.distiller, cached=True),
            student_cached_pooled=partial(self.distiller, cached=True,
                                          pooled=True),
            **({
                f'student_joint_output_{dtype}': partial(
                    self.joint_output_student, dtype)
                for dtype in self.joint_output['roots']
            } if self.joint_output else {}))

    def joint_output_student(self, dtype):
        """The MLFD student's step from the joint-output cache: no joint
        teacher is built; its step is the student plus the connectors and
        losses."""
        cfg = copy.deepcopy(self.student_cfg)
        root = self.joint_output['roots'][dtype]
        cfg['teacher'] = dict(config=copy.deepcopy(self.joint_cfg),
                              checkpoint=self.joint_output['checkpoint'])
        cfg['joint_output_cache'] = dict(root=root, dtype=dtype)
        return self._student(MODELS.build(cfg), root)

    def _joint_config(self, cached, pooled):
        """A copy of the joint config reading the (pooled) cache if
        ``cached``, and that cache's root."""
        cfg = copy.deepcopy(self.joint_cfg)
        root = self.pooled_root if pooled else self.cache_root
        if cached:
            cfg['feature_cache'] = dict(root=root,
                                        pool='min' if pooled else None)
        # Teachers without checkpoints: the same random weights each time.
        torch.manual_seed(self.seed)
        return cfg, root

    def joint(self, cached: bool, pooled: bool = False):
        """The joint teacher's step, teachers online or cached."""
        cfg, root = self._joint_config(cached, pooled)
        model = MODELS.build(cfg)
        model.train()
        optimizer = torch.optim.AdamW(_trainable(model), lr=2e-3,
                                      weight_decay=0.05)
        names = list(self.joint_train)
        wrapper = MultiDatasetWrapper(
            [self.joint_train[n] for n in names], names=names)
        if cached:
            wrapper = CachedFeatureDataset(wrapper, root, 'train')
        return make_step(model, optimizer,
                         batches(wrapper, self.batch_size, self.count,
                                 self.seed))

    def plain_student(self):
        """The student's plain supervised step (the floor)."""
        student, _ = resolve_model_config(self.student_cfg['student'],
                                          'student')
        student['data_preprocessor'] = student_data_preprocessor(
            student, self.student_cfg.get('data_preprocessor'))
        return self._student(MODELS.build(student))

    def distiller(self, cached: bool, pooled: bool = False):
        """The MLFD student's step, its joint teacher online or cached."""
        cfg = copy.deepcopy(self.student_cfg)
        cfg.pop('joint_output_cache', None)  # a cached student config's
        joint, root = self._joint_config(cached, pooled)
        cfg['teacher'] = dict(config=joint, checkpoint=None)
        return self._student(MODELS.build(cfg), root if cached else None)

    def _student(self, model, cache_root=None):
        model.train()
        optimizer = torch.optim.SGD(_trainable(model), lr=0.05, momentum=0.9,
                                    weight_decay=5e-4)
        dataset = self.student_train
        if cache_root:
            dataset = CachedFeatureDataset(
                dataset, cache_root, 'train', dataset_name=self.student_name)
        return make_step(model, optimizer,
                         batches(dataset, self.batch_size, self.count,
                                 self.seed + 1))


def build_joint_output_caches(joint_cfg, student_cfg, student_test, work,
                              dtypes, seed):
    """Joint-output caches of the student's samples (test pipeline), one per
    dtype, from a joint teacher of random weights saved as a checkpoint
    (the cache is checked against its SHA-256).

    Returns:
        dict: ``checkpoint`` and ``roots`` (dtype -> root), for
        :class:`Variants`; ``write_samples_per_s`` per dtype.
    """
    import time

    from ...cache import DatasetSource
    from ...cache.joint_outputs import JointOutputCacheWriter, joint_identity
    torch.manual_seed(seed)
    cfg = copy.deepcopy(student_cfg)
    cfg.pop('joint_output_cache', None)
    cfg['teacher'] = dict(config=copy.deepcopy(joint_cfg), checkpoint=None)
    distiller = MODELS.build(cfg).eval()
    checkpoint = osp.join(work, 'joint_random.pth')
    torch.save(dict(state_dict=distiller.teacher.state_dict(), meta={}),
               checkpoint)
    teacher = distiller.teacher
    identity = joint_identity(joint_cfg, checkpoint, distiller.dataset_name)
    identity.update(dataset_names=list(teacher.dataset_names),
                    level_channels=list(teacher.level_channels),
                    num_classes=[int(k) for k in teacher.num_classes])
    roots, rates = {}, {}
    for dtype in dtypes:
        roots[dtype] = osp.join(work, f'joint_output_{dtype}')
        writer = JointOutputCacheWriter(distiller, roots[dtype], identity,
                                        dtype=dtype, progress=False)
        sources = dict(train=[DatasetSource(distiller.dataset_name,
                                            student_test, [])])
        start = time.perf_counter()
        writer.prepare(sources)
        count = writer.write(sources, check_space=False)
        rates[dtype] = count / (time.perf_counter() - start)
    return dict(checkpoint=checkpoint, roots=roots), rates
