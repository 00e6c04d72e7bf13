"""AMTML-KD's per-instance teacher weights mu as evidence: does the weighting
favour, instance by instance, the teachers that are right?

From a finished AMTML-KD run (its config and checkpoint), on a split of its
dataset: per teacher the mean mu, its spread across instances, the
teacher's accuracy and the correlation between an instance's mu for the
teacher and the teacher's correctness on it; how often the highest-mu
teacher is a correct one, against picking a teacher at random; and, when
the run's ``teacher_weights.json`` is there (TeacherWeightsHook), mu's
mean per training epoch.
"""
import copy
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, DefaultScope
from torch.utils.data import DataLoader

from ..models.distillers.teacher_weights_hook import (WEIGHTS_FILE,
                                                      read_weight_log)
from .embeddings import _build

SPLITS = ('test', 'val')


def _pearson(x: torch.Tensor, y: torch.Tensor) -> Optional[float]:
    """Pearson correlation of two (N, ) vectors; None if one is constant."""
    x, y = x.double() - x.double().mean(), y.double() - y.double().mean()
    norm = x.norm() * y.norm()
    if norm == 0:
        return None
    return float((x * y).sum() / norm)


def weight_statistics(weights: torch.Tensor,
                      correct: torch.Tensor,
                      agree: Optional[torch.Tensor] = None) -> dict:
    """The statistics of per-instance teacher weights against the teachers'
    correctness.

    Args:
        weights (Tensor): (N, K) mu, rows summing to 1.
        correct (Tensor): (N, K) bool, teacher k right on instance n.
        agree (Tensor, optional): (N, K) bool, teacher k predicts the
            student's class on instance n.

    Returns:
        dict: per teacher (lists of K): ``mean``, ``std`` (across
        instances), ``accuracy`` (%), ``corr`` (Pearson of mu_k and
        correct_k; None where either is constant); and ``top_mu_correct``
        (% of instances whose highest-mu teacher is right), ``chance`` (%
        expected from a teacher drawn at random: the mean share of right
        teachers), ``oracle`` (% with some teacher right), ``best_teacher``
        (% of the single best teacher), each also ``..._disagree`` on the
        ``disagree`` instances (some but not all teachers right), where the
        choice matters. With ``agree``: ``corr_agree`` (per teacher,
        Pearson of mu_k and agree_k), ``top_mu_agree`` (% of instances
        whose highest-mu teacher predicts the student's class) and
        ``chance_agree``.
    """
    if weights.shape != correct.shape or weights.dim() != 2:
        raise ValueError(f'weights {tuple(weights.shape)} and correctness '
                         f'{tuple(correct.shape)} must both be (N, K)')
    correct = correct.bool()
    num, teachers = weights.shape
    picked = correct.gather(1, weights.argmax(1, keepdim=True))[:, 0]
    share = correct.double().mean(1)
    right = correct.sum(1)
    disagree = (right > 0) & (right < teachers)

    def pct(mask: torch.Tensor, rows: torch.Tensor) -> Optional[float]:
        count = int(rows.sum())
        return 100. * float(mask[rows].double().sum()) / count if count \
            else None

    everyone = torch.ones(num, dtype=torch.bool)
    best = int(correct.double().mean(0).argmax())
    out = dict(
        instances=num,
        mean=weights.double().mean(0).tolist(),
        std=weights.double().std(0, unbiased=False).tolist(),
        accuracy=(100. * correct.double().mean(0)).tolist(),
        corr=[_pearson(weights[:, k], correct[:, k])
              for k in range(teachers)],
        disagree=int(disagree.sum()))
    for suffix, rows in (('', everyone), ('_disagree', disagree)):
        out['top_mu_correct' + suffix] = pct(picked, rows)
        count = int(rows.sum())
        out['chance' + suffix] = 100. * float(share[rows].sum()) / count \
            if count else None
        out['oracle' + suffix] = pct(right > 0, rows)
        out['best_teacher' + suffix] = pct(correct[:, best], rows)
    if agree is not None:
        if agree.shape != weights.shape:
            raise ValueError(f'agreement {tuple(agree.shape)} must be '
                             f'{tuple(weights.shape)}')
        agree = agree.bool()
        out['corr_agree'] = [_pearson(weights[:, k], agree[:, k])
                             for k in range(teachers)]
        out['top_mu_agree'] = pct(
            agree.gather(1, weights.argmax(1, keepdim=True))[:, 0],
            everyone)
        out['chance_agree'] = 100. * float(agree.double().mean())
    return out


@torch.no_grad()
def teacher_weight_evidence(config: str,
                            checkpoint: str,
                            split: str = 'test',
                            work_dir: Optional[str] = None) -> dict:
    """Measure a finished AMTML-KD run's teacher weights on a split.

    Args:
        config (str): The run's config (a stage's ``config.py``).
        checkpoint (str): Its checkpoint (the distiller's, teachers
            included: the teachers' own checkpoints are not read).
        split (str): ``'test'`` or ``'val'``: the config's loader.
        work_dir (str, optional): Where ``teacher_weights.json`` is; the
            checkpoint's directory by default.

    Returns:
        dict: :func:`weight_statistics` plus ``teachers`` (names),
        ``student_accuracy`` (%), ``split``, and ``epochs`` (the per-epoch
        log, or None when the run wrote none).
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    cfg = Config.fromfile(config)
    if cfg.model.get('type') != 'AMTMLDistiller':
        raise ValueError(f'{config}: model.type is '
                         f'{cfg.model.get("type")!r}, not AMTMLDistiller: '
                         'teacher weights belong to AMTML-KD runs')
    loader_cfg = cfg.get(f'{split}_dataloader')
    if not loader_cfg:
        raise ValueError(f'{config}: no {split}_dataloader')
    cfg = copy.deepcopy(cfg)
    for spec in cfg.model.teachers:
        spec['checkpoint'] = None  # their weights are in the run's checkpoint
    model = _build(cfg, checkpoint, f'AMTML-KD run {checkpoint}')
    if not model.use_soft_targets:
        raise ValueError(f'{config}: soft targets are off (kd = rkd = 0): '
                         'the run has no teacher weights')
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        dataset = DATASETS.build(loader_cfg.dataset)
    loader = DataLoader(dataset, batch_size=loader_cfg.get('batch_size', 64),
                        collate_fn=pseudo_collate)
    weights, correct, agree, student_right = [], [], [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        labels = torch.cat([s.gt_label.reshape(-1)[:1] for s in samples])
        out = model(inputs, mode='tensor')
        weights.append(out['teacher_weights'].float())
        student = out['logits'].argmax(-1)
        student_right.append(student == labels)
        predicted = torch.stack(
            [teacher.forward_with_logits(inputs)[1].argmax(-1)
             for teacher in model.teachers], dim=1)
        correct.append(predicted == labels[:, None])
        agree.append(predicted == student[:, None])
    result = weight_statistics(torch.cat(weights), torch.cat(correct),
                               torch.cat(agree))
    result.update(
        teachers=list(model.teacher_names), split=split,
        student_accuracy=100. * float(torch.cat(student_right).double()
                                      .mean()))
    log_file = osp.join(work_dir or osp.dirname(osp.abspath(checkpoint)),
                        WEIGHTS_FILE)
    result['epochs'] = None
    if osp.isfile(log_file):
        log = read_weight_log(log_file)
        if log['teachers'] != result['teachers']:
            raise ValueError(f'{log_file} logs teachers {log["teachers"]}, '
                             f'the run has {result["teachers"]}')
        result['epochs'] = log['epochs']
    return result


def _num(value: Optional[float], fmt: str = '.2f') -> str:
    return 'n/a' if value is None or (isinstance(value, float) and
                                      math.isnan(value)) else \
        format(value, fmt)


def format_teacher_weight_evidence(result: Dict) -> str:
    """The evidence as text: a table per teacher, the top-mu pick against
    chance, and the per-epoch means."""
    names: List[str] = result['teachers']
    lines = [
        f'teacher weights mu on the {result["split"]} split '
        f'({result["instances"]} instances; student acc@1 '
        f'{result["student_accuracy"]:.2f})', '',
        '| teacher | acc@1 | mean mu | std mu (instances) | '
        'corr(mu, correct) | corr(mu, agrees with student) |',
        '|---|---|---|---|---|---|']
    agree_corr = result.get('corr_agree') or [None] * len(names)
    for k, name in enumerate(names):
        lines.append(
            f'| {name} | {result["accuracy"][k]:.2f} | '
            f'{result["mean"][k]:.4f} | {result["std"][k]:.4f} | '
            f'{_num(result["corr"][k], "+.3f")} | '
            f'{_num(agree_corr[k], "+.3f")} |')
    if max(result['std']) == 0:
        lines += ['', 'mu is the same for every instance (equal weights): '
                  'the highest-mu teacher below is the first one']
    lines += [
        '',
        f'highest-mu teacher right: {_num(result["top_mu_correct"])}% of '
        f'instances (a random teacher: {_num(result["chance"])}%; best '
        f'single teacher: {_num(result["best_teacher"])}%; some teacher '
        f'right: {_num(result["oracle"])}%)',
        f'where the teachers disagree ({result["disagree"]} instances): '
        f'highest-mu teacher right {_num(result["top_mu_correct_disagree"])}'
        f'% (a random teacher: {_num(result["chance_disagree"])}%; best '
        f'single teacher: {_num(result["best_teacher_disagree"])}%)']
    if 'top_mu_agree' in result:
        lines.append(
            f'highest-mu teacher predicts the student\'s class: '
            f'{_num(result["top_mu_agree"])}% (a random teacher: '
            f'{_num(result["chance_agree"])}%)')
    epochs = result.get('epochs')
    if epochs:
        lines += ['', 'mean mu per training epoch (std across instances):',
                  '| epoch | ' + ' | '.join(names) + ' |',
                  '|---|' + '---|' * len(names)]
        for entry in epochs:
            lines.append(f'| {entry["epoch"]} | ' + ' | '.join(
                f'{m:.4f} ({s:.4f})'
                for m, s in zip(entry['mean'], entry['std'])) + ' |')
    elif epochs is None:
        lines += ['', 'no teacher_weights.json: mu was not logged per epoch '
                  '(a run before TeacherWeightsHook)']
    return '\n'.join(lines)
