"""The report's figures, drawn with matplotlib (Agg: no display needed).

Each function returns the figure and the numbers it drew, so that tests and
the HTML page can check and print what a person sees.
"""
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .run_reader import PipelineRun, metric_percent  # noqa: E402

# The three stages of MLFD, in the order the paper compares them.
STAGE_ROWS = (('specific', 'teachers/{}'), ('joint teacher', 'joint'),
              ('student', 'students/{}'))


def mean_spread(values: Sequence[float]) -> Tuple[Optional[float],
                                                  Optional[float]]:
    """(mean, sample std) of the values; std None with fewer than two (the
    spread is unknown, not zero)."""
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), None
    return statistics.mean(values), statistics.stdev(values)


def results_bars(run: PipelineRun, metric: str = 'acc@1'):
    """Per dataset, ``metric`` of the specific model, the joint teacher and
    the student: bar = mean over seeds, error bar = seed std.

    Returns:
        tuple: ``(figure, bars)``; ``bars[dataset][row] = (mean, std, n)``
        for each row present (std None when one seed).
    """
    datasets = run.datasets
    bars: Dict[str, Dict[str, tuple]] = {}
    for dataset in datasets:
        bars[dataset] = {}
        for row, pattern in STAGE_ROWS:
            key = pattern.format(dataset)
            if key not in run.stage_keys:
                continue
            values = run.metric(key, dataset, metric)
            if values:
                bars[dataset][row] = (*mean_spread(values), len(values))
    rows = [row for row, _ in STAGE_ROWS
            if any(row in bars[d] for d in datasets)]
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * max(len(datasets), 1), 3.4))
    width = 0.8 / max(len(rows), 1)
    for r, row in enumerate(rows):
        xs, heights, errs = [], [], []
        for d, dataset in enumerate(datasets):
            if row in bars[dataset]:
                mean, std, _ = bars[dataset][row]
                xs.append(d + (r - (len(rows) - 1) / 2) * width)
                heights.append(mean)
                errs.append(std or 0.0)
        has_spread = any(bars[ds][row][1] is not None
                         for ds in datasets if row in bars[ds])
        ax.bar(xs, heights, width, label=row, gid=f'bars:{row}',
               yerr=errs if has_spread else None, capsize=3)
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_ylabel(f'test {metric} (%)')
    _set_ylim(ax, [b[0] for d in bars.values() for b in d.values()])
    seeds = len(run.seeds)
    ax.set_title(f'test {metric}, mean over {seeds} seed{"s" * (seeds > 1)}'
                 + ('' if seeds > 1 else ' (spread unknown)'), fontsize=9,
                 pad=18)
    ax.legend(fontsize=7, loc='lower center', ncol=len(rows), frameon=False,
              bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig, bars


def method_bars(run: PipelineRun, table: Sequence[Tuple[str, str]],
                dataset: str, metric: str = 'acc@1'):
    """One bar per method of a ``table=`` pipeline (label, stage key).

    Returns:
        tuple: ``(figure, bars)``; ``bars[label] = (mean, std, n)``.
    """
    bars = {}
    for label, key in table:
        values = run.metric(key, dataset, metric)
        if values:
            bars[label] = (*mean_spread(values), len(values))
    fig, ax = plt.subplots(figsize=(1.5 + 1.0 * len(bars), 3.2))
    labels = list(bars)
    has_spread = any(b[1] is not None for b in bars.values())
    ax.bar(range(len(labels)), [bars[k][0] for k in labels], 0.6,
           yerr=[bars[k][1] or 0.0 for k in labels] if has_spread else None,
           capsize=3, gid='bars:methods')
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha='right',
                  fontsize=7)
    ax.set_ylabel(f'{dataset} test {metric} (%)')
    _set_ylim(ax, [b[0] for b in bars.values()])
    fig.tight_layout()
    return fig, bars


def _set_ylim(ax, values):
    if values:
        low = min(values)
        ax.set_ylim(max(0.0, low - 0.2 * (100 - low) - 5), 100)


def dataset_curves(run: PipelineRun, dataset: str, seed: int):
    """Validation acc@1 and training losses against epoch, for every stage
    of one dataset (its teacher, the joint teacher, its student), one seed.

    Returns:
        tuple: ``(figure, lines)``; ``lines['acc'][stage key]`` and
        ``lines['loss'][stage key + ' ' + loss name]`` are
        ``(epochs, values)``.
    """
    lines = dict(acc={}, loss={})
    keys = [p.format(dataset) for _, p in STAGE_ROWS]
    for key in keys:
        if key not in run.stage_keys:
            continue
        val, train = run.curves(seed, key)
        acc = _val_acc(val, dataset)
        if acc:
            lines['acc'][key] = (list(acc), list(acc.values()))
        for name, per_epoch in train.items():
            if not name.startswith('loss'):
                continue
            if name == 'loss' and len(train) > 1 and key != keys[0]:
                continue  # the total is the sum of the terms drawn
            if key == 'joint' and name != f'loss_{dataset}':
                continue  # the joint teacher's loss on this dataset only
            lines['loss'][f'{key} {name}'] = (list(per_epoch),
                                              list(per_epoch.values()))
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3))
    for key, (epochs, values) in lines['acc'].items():
        ax_acc.plot(epochs, values, marker='.', label=key, gid=f'acc:{key}')
    ax_acc.set_xlabel('epoch')
    ax_acc.set_ylabel('val acc@1 (%)')
    fig.suptitle(f'{dataset}, seed {seed}', fontsize=9)
    for label, (epochs, values) in lines['loss'].items():
        ax_loss.plot(epochs, values, label=label, gid=f'loss:{label}')
    ax_loss.set_xlabel('epoch')
    ax_loss.set_ylabel('training loss (weighted term)')
    ax_loss.set_yscale('log')
    for ax in (ax_acc, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.legend(fontsize=6, loc='upper left', bbox_to_anchor=(1, 1),
                      frameon=False)
    fig.tight_layout()
    return fig, lines


def _val_acc(val: Dict[str, Dict[int, float]],
             dataset: str) -> Dict[int, float]:
    """acc@1 (percent) of ``dataset`` per epoch from validation scalars."""
    epochs = sorted({e for per_epoch in val.values() for e in per_epoch})
    acc = {}
    for epoch in epochs:
        metrics = {k: v[epoch] for k, v in val.items() if epoch in v}
        value = metric_percent(metrics, dataset, 'acc@1')
        if value is not None:
            acc[epoch] = value
    return acc


def weight_curves(mu: Dict[str, Dict[int, float]]):
    """AMTML-KD: mean teacher weight per teacher against epoch.

    Args:
        mu (dict): ``mu[teacher][epoch]`` mean instance weight.
    """
    fig, ax = plt.subplots(figsize=(4, 3))
    for teacher, per_epoch in mu.items():
        ax.plot(list(per_epoch), list(per_epoch.values()), marker='.',
                label=teacher, gid=f'mu:{teacher}')
    ax.set_xlabel('epoch')
    ax.set_ylabel('mean teacher weight μ')
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    plt.close(fig)


def figure_lines(fig) -> List[str]:
    """The gids of every line of a figure (what a test checks)."""
    return [line.get_gid() for ax in fig.axes for line in ax.lines
            if line.get_gid()]
