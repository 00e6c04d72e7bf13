"""What a distilled student learns from its teacher, measured on the
validation (and test) split, and how far it overfits its training split."""
import copy
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..datasets.multi_dataset import resolve_dataset_config


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _is_mlfd(model) -> bool:
    return all(hasattr(model, name) for name in (
        'teacher', 'pairs', 'connectors', 'dataset_index', 'student_side',
        '_teacher_outputs'))


class _Sums:
    """Running sums of one split's diagnostics."""

    def __init__(self):
        self.samples = 0.
        self.agree = 0.
        self.kl = 0.
        self.err: Dict[str, float] = {}  # per pair: sum (c - t)^2
        self.spread: Dict[str, float] = {}  # per pair: sum (t - mean t)^2
        self.cosine: Dict[str, float] = {}  # per pair: sum of cosines

    def add(self, key, err, spread, cosine):
        for store, value in ((self.err, err), (self.spread, spread),
                             (self.cosine, cosine)):
            store[key] = store.get(key, 0.) + float(value)

    def result(self) -> Dict[str, float]:
        if self.samples == 0:
            return {}
        out = {}
        if self.agree is not None:
            out['kd_agreement_top1'] = 100 * self.agree / self.samples
            out['kd_kl'] = self.kl / self.samples
        for key in self.err:
            out[f'feature_nmse_{key}'] = self.err[key] / max(
                self.spread[key], 1e-12)
            out[f'feature_cosine_{key}'] = self.cosine[key] / self.samples
        return out


@HOOKS.register_module()
class DistillDiagnosticsHook(Hook):
    """Log what a student takes from its joint teacher, per validation (and
    test) run, next to the stock metrics:

    - ``<mode>/diag/kd_agreement_top1``: % of samples where the student's
      top-1 class is the joint teacher's (its head for the student's
      dataset), and ``kd_kl``: KL(teacher || student) at the distiller's
      temperature, times T^2 (the KD term, unweighted);
    - per distilled pair ``s<stage>_l<k>``: ``feature_nmse_...``, the
      connector output's squared error to the joint level divided by the
      level's spread around its per-channel mean (1.0: no better than the
      channel means; 0: exact), and ``feature_cosine_...``, the mean over
      samples of the cosine between the flattened maps;
    - with ``train_accuracy``: ``val/diag/train_accuracy_top1``, the
      student's acc@1 on its training split with the validation pipeline
      (no augmentation), and ``val/diag/train_val_gap`` (train minus val
      acc@1): how much the student overfits.

    Works with any :class:`MLFDDistiller`; for another model (a plain
    classifier, e.g. the dataset-specific stage-1 run, to compare gaps)
    only the training-split accuracy and the gap are logged. The values go
    to mmengine's logs and ``vis_data/scalars.json``, so the report's curves
    and ``analyze_logs.py`` read them; none of them picks the best
    checkpoint.

    Args:
        train_accuracy (bool): Measure the training split's acc@1 at every
            validation (one pass over it without augmentation). Defaults
            to True.
    """

    priority = 'NORMAL'  # before LoggerHook, so the values reach the log

    def __init__(self, train_accuracy: bool = True):
        self.train_accuracy = train_accuracy
        self._sums: Optional[_Sums] = None
        self._train_loader = None

    # ------------------------------------------------------------------
    # teacher-side diagnostics, accumulated over the val / test batches
    # ------------------------------------------------------------------
    def _begin(self, runner, split: str):
        model = _unwrap(runner.model)
        self._sums = _Sums() if _is_mlfd(model) else None
        cache = getattr(model, 'joint_output_cache', None)
        if self._sums is not None and cache and split not in cache['splits']:
            raise ValueError(
                f'DistillDiagnosticsHook compares the student with its joint '
                f'teacher on the {split} split, but the student trains from '
                'a joint-output cache whose model.joint_output_cache.splits '
                f"is {cache['splits']}: add {split!r} to it (the cache is "
                'then built for that split too), or remove the hook')

    @torch.no_grad()
    def _accumulate(self, runner, data_batch):
        if self._sums is None:
            return
        model = _unwrap(runner.model)
        data = model.data_preprocessor(data_batch, False)
        inputs, samples = data['inputs'], data.get('data_samples')
        teacher_out = model._teacher_outputs(inputs, samples)
        side = model.student_side
        logits = side.forward_tensor(model.student_inputs(inputs))
        feats = side.features
        sums = self._sums
        sums.samples += logits.size(0)
        if model.dataset_index is None:
            sums.agree = None  # no joint head for this dataset
        elif sums.agree is not None:
            t_logits = teacher_out['logits'][model.dataset_index]
            sums.agree += float((logits.argmax(-1) ==
                                 t_logits.argmax(-1)).sum())
            sums.kl += float(model.kd_loss(logits, t_logits)) * \
                logits.size(0)
        connectors = list(model.connectors)
        for i, (stage, level) in enumerate(model.pairs):
            if i >= len(connectors):
                break  # no connectors: feature distillation is off
            level_map = teacher_out['features'][level].float()
            mapped = connectors[i](feats[stage], level_map.shape[-2:])
            spread = (level_map - level_map.mean(
                dim=(0, 2, 3), keepdim=True)).pow(2).sum()
            # one row per sample (per frame for clips)
            mapped, target = mapped.float().flatten(1), level_map.flatten(1)
            per_row = F.cosine_similarity(mapped, target, dim=1)
            rows_per_sample = per_row.numel() // logits.size(0)
            sums.add(f's{stage}_l{level + 1}',
                     (mapped - target).pow(2).sum(), spread,
                     per_row.sum() / max(rows_per_sample, 1))

    def _log(self, runner, mode: str, values: Dict[str, float]):
        for key, value in values.items():
            runner.message_hub.update_scalar(f'{mode}/diag/{key}', value)
        if values:
            runner.logger.info(f'distillation diagnostics ({mode}): ' +
                               ', '.join(f'{k} {v:.4g}'
                                         for k, v in values.items()))

    # ------------------------------------------------------------------
    # the training split without augmentation
    # ------------------------------------------------------------------
    @staticmethod
    def _own_dataset(dataset: dict, name: Optional[str], key: str) -> dict:
        """The config of the student's own dataset in a loader's dataset
        config: the one a CachedFeatureDataset wraps (its cached outputs
        are not needed to score the student), or the entry named ``name``
        (the distiller's dataset) of a MultiDatasetWrapper."""
        dataset = copy.deepcopy(dict(dataset))
        if dataset.get('type') == 'CachedFeatureDataset':
            dataset = copy.deepcopy(dict(dataset['dataset']))
        if dataset.get('type') == 'MultiDatasetWrapper':
            names = list(dataset.get('names') or [])
            if name not in names:
                raise ValueError(
                    f'DistillDiagnosticsHook: {key} is a MultiDatasetWrapper '
                    f'of {names}, none of them the student\'s dataset '
                    f'{name!r}: the training-split accuracy needs it (or set '
                    'train_accuracy=False)')
            # an entry may name a config's split: dict(config=, split=)
            dataset = resolve_dataset_config(copy.deepcopy(
                dataset['datasets'][names.index(name)]))
        return dataset

    def _train_split_loader(self, runner):
        if self._train_loader is None:
            cfg = copy.deepcopy(runner.cfg.train_dataloader)
            val = runner.cfg.val_dataloader
            name = getattr(_unwrap(runner.model), 'dataset_name', None)
            own = self._own_dataset(val.dataset, name, 'val_dataloader')
            cfg.dataset = self._own_dataset(cfg.dataset, name,
                                            'train_dataloader')
            cfg.dataset['pipeline'] = copy.deepcopy(own['pipeline'])
            cfg.sampler = dict(type='DefaultSampler', shuffle=False)
            cfg.batch_size = val.get('batch_size', cfg.batch_size)
            cfg.num_workers = 0
            cfg.persistent_workers = False
            self._train_loader = runner.build_dataloader(cfg)
        return self._train_loader

    @staticmethod
    def _predict(model, batch) -> list:
        data = model.data_preprocessor(batch, False)
        if hasattr(model, 'student_side'):
            # the student alone: the joint teacher's accuracy counting
            # (JointTeacherAccuracyHook) must not see training images
            return model.student_side.predict(
                model.student_inputs(data['inputs']), data['data_samples'])
        return model(**data, mode='predict')

    @torch.no_grad()
    def _train_top1(self, runner) -> Optional[float]:
        model = _unwrap(runner.model)
        was_training = model.training
        model.eval()
        hits = total = 0
        # The loader's iterator draws its base seed from torch's generator:
        # forked, so the run's random numbers are those it has without
        # this hook.
        with torch.random.fork_rng(devices=[]):
            try:
                for batch in self._train_split_loader(runner):
                    for sample in self._predict(model, batch):
                        if 'gt_label' not in sample or \
                                'pred_label' not in sample:
                            return None
                        hits += int(sample.pred_label.reshape(-1)[0] ==
                                    sample.gt_label.reshape(-1)[0])
                        total += 1
            finally:
                model.train(was_training)
        return 100. * hits / total if total else None

    # ------------------------------------------------------------------
    # hook points
    # ------------------------------------------------------------------
    def before_val_epoch(self, runner) -> None:
        self._begin(runner, 'val')

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._accumulate(runner, data_batch)

    def after_val_epoch(self, runner, metrics=None) -> None:
        values = self._sums.result() if self._sums is not None else {}
        if self.train_accuracy:
            train_top1 = self._train_top1(runner)
            val_top1 = (metrics or {}).get('accuracy/top1')
            if train_top1 is not None:
                values['train_accuracy_top1'] = train_top1
                if val_top1 is not None:
                    values['train_val_gap'] = train_top1 - float(val_top1)
        self._log(runner, 'val', values)

    def before_test_epoch(self, runner) -> None:
        self._begin(runner, 'test')

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._accumulate(runner, data_batch)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self._sums is not None:
            self._log(runner, 'test', self._sums.result())
