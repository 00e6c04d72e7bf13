"""Write ``<work_dir>/report/``: the figures as PNG files beside an
``index.html`` that opens offline (no script, no network)."""
import html
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Optional

import numpy as np

from . import figures
from .embeddings import joint_embedding, run_embeddings, save_embedding
from ..atomic_files import atomic_write_text
from ..evaluation.pipeline_results import student_verdict
from .run_reader import PipelineRun


class Progress:
    """One line per finished step with the time left, estimated from the
    mean time of the steps so far; no carriage-return animation, so logs
    stay readable."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.start = total, 0, time.time()
        self.stream = stream or sys.stdout

    def __call__(self, what: str, seconds: float = 0.0):
        self.done += 1
        elapsed = time.time() - self.start
        left = elapsed / self.done * max(self.total - self.done, 0)
        print(f'[report {self.done}/{self.total}] {what} ({seconds:.1f} s; '
              f'about {left:.0f} s left)', file=self.stream, flush=True)


def write_report(work_dir: str, stage_dirs: Optional[dict] = None,
                 table=None, dataset: Optional[str] = None,
                 embeddings: bool = True, stream=None) -> str:
    """Write the report of a pipeline run and return its index.html path.

    Args:
        work_dir (str): The pipeline's work directory (``seed<k>/...``).
        stage_dirs (dict, optional): ``{seed: {stage key: dir}}`` of the
            stages the pipeline runs (see :class:`PipelineRun`), so that
            unfinished ones are named as missing.
        table (list, optional): A ``table=`` pipeline's ``(label, stage)``
            rows, drawn as one bar per method on ``dataset``.
        dataset (str, optional): The dataset of a ``table=`` pipeline.
        embeddings (bool): Draw the t-SNE embeddings (image pipelines).
        stream: Where progress lines go (default stdout).
    """
    run = PipelineRun(work_dir, stage_dirs)
    out_dir = osp.join(work_dir, 'report')
    os.makedirs(out_dir, exist_ok=True)
    seed = run.seeds[0]
    with_embeddings = embeddings and _is_image_run(run, seed)
    steps = 1 + len(run.datasets) + (
        (2 * len(run.datasets) + 1) if with_embeddings else 0)
    progress = Progress(steps, stream)
    sections = []

    def figure(fig, name, caption):
        fig.savefig(osp.join(out_dir, name), dpi=90)
        figures.close(fig)
        sections.append(f'<figure><img src="{name}" alt="{html.escape(caption)}">'
                        f'<figcaption>{html.escape(caption)}</figcaption>'
                        '</figure>')

    sections.append('<h2>Results</h2>')
    if len(run.seeds) < 2:
        sections.append('<p class="warn">One seed: the spread over seeds is '
                        'unknown (no error bars); run more seeds with '
                        '<code>--seeds 0 1 2</code>.</p>')
    if table:
        fig, bars = figures.method_bars(run, table, dataset)
        figure(fig, 'results.png', f'{dataset}: test acc@1 per method')
    else:
        fig, bars = figures.results_bars(run, 'acc@1')
        figure(fig, 'results.png', 'test acc@1 per dataset and stage')
        sections.append(_verdicts(run))
        if any(run.metric(f'teachers/{d}', d, 'mAP') for d in run.datasets):
            fig, _ = figures.results_bars(run, 'mAP')
            figure(fig, 'results_map.png', 'test mAP per dataset and stage')
    progress('results chart')
    sections.append(_missing(run))

    sections.append(f'<h2>Training curves (seed {seed})</h2>')
    for name in run.datasets:
        fig, _ = figures.dataset_curves(run, name, seed)
        figure(fig, f'curves_{name}.png', f'{name}: validation acc@1 and '
               'training loss terms per epoch')
        progress(f'curves {name}')
    mu = _teacher_weights(run, seed)
    if mu:
        sections.append('<h2>AMTML-KD teacher weights</h2>')
        for key, per_teacher in mu.items():
            figure(figures.weight_curves(per_teacher),
                   f'mu_{key.replace("/", "_")}.png',
                   f'{key}: mean teacher weight μ per epoch')

    if with_embeddings:
        sections.append(f'<h2>Embeddings (t-SNE of test features, seed '
                        f'{seed})</h2>')
        sections += _embedding_sections(run, seed, out_dir, figure, progress)
    sections.append(_provenance(run))
    index = osp.join(out_dir, 'index.html')
    atomic_write_text(index, _PAGE.format(title=html.escape(
        osp.basename(osp.abspath(work_dir))), body='\n'.join(sections)))
    return index


def _is_image_run(run: PipelineRun, seed: int) -> bool:
    """Whether the run's models classify images (t-SNE of video clips is
    not drawn)."""
    metrics = [r.get('metrics', {}) for r in run.records[seed].values()]
    return bool(metrics) and not any(
        'acc/top1' in m or any(k.endswith('/mAP') for k in m)
        for m in metrics)


def _verdicts(run: PipelineRun) -> str:
    """Per dataset: did the student beat its specific model beyond the seed
    spread, tie, or lose."""
    rows = []
    for name in run.datasets:
        specific = run.metric(f'teachers/{name}', name, 'acc@1')
        student = run.metric(f'students/{name}', name, 'acc@1')
        if not specific or not student:
            continue
        verdict, gain = student_verdict(specific, student)
        css = 'warn' if verdict.startswith('lost') else ''
        rows.append(f'<tr class="{css}"><td>{html.escape(name)}</td>'
                    f'<td>{gain:+.2f}</td><td>{html.escape(verdict)}</td>'
                    '</tr>')
    if not rows:
        return ''
    return ('<table><tr><th>dataset</th><th>student gain acc@1</th>'
            '<th>verdict</th></tr>' + ''.join(rows) + '</table>')


def _missing(run: PipelineRun) -> str:
    missing = run.missing()
    if not missing:
        return ''
    items = ''.join(f'<li>seed {s}: {html.escape(k)}</li>'
                    for s, k in missing)
    return ('<p class="warn">Stages not finished (drawn without them):</p>'
            f'<ul>{items}</ul>')


def _teacher_weights(run: PipelineRun, seed: int) -> dict:
    """``{stage: {teacher: {epoch: mean mu}}}`` of AMTML-KD stages."""
    out = {}
    for key in run.stage_keys:
        _, train = run.curves(seed, key)
        mu = {k[len('mu_'):]: v for k, v in train.items()
              if k.startswith('mu_')}
        if mu:
            out[key] = mu
    return out


def _embedding_sections(run, seed, out_dir, figure, progress):
    """Draw the embeddings (through ``figure``) and return the table of
    their separation scores."""
    import matplotlib.pyplot as plt
    scores = []
    for name in run.datasets:
        result = run_embeddings(run, seed, name, progress)
        shown = [(k, v) for k, v in result.items() if v is not None]
        if not shown:
            continue
        fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3.6),
                                 squeeze=False)
        for ax, (label, emb) in zip(axes[0], shown):
            save_embedding(osp.join(out_dir, f'embedding_{name}_{label}.npz'),
                           emb)
            _scatter(ax, emb, f'{label}: silhouette {emb["silhouette"]:.3f}, '
                     f'5-NN {emb["knn"]:.1f}%')
            scores.append((name, label, 'class', emb))
        figure(fig, f'embedding_{name}.png', f'{name}: specific model vs '
               'student, coloured by class')
    joint = joint_embedding(run, seed, progress)
    if joint is not None:
        save_embedding(osp.join(out_dir, 'embedding_joint.npz'), joint)
        fig, ax = plt.subplots(figsize=(4.5, 3.6))
        _scatter(ax, joint, f'joint teacher by dataset: silhouette '
                 f'{joint["silhouette"]:.3f}', names=joint['names'])
        figure(fig, 'embedding_joint.png', 'joint teacher fused features, '
               'coloured by dataset')
        scores.append(('all', 'joint teacher', 'dataset', joint))
    rows = ''.join(
        f'<tr><td>{html.escape(d)}</td><td>{html.escape(m)}</td>'
        f'<td>{g}</td><td>{e["silhouette"]:.3f}</td><td>{e["knn"]:.1f}</td>'
        f'<td>{len(e["points"])}</td></tr>' for d, m, g, e in scores)
    return [('<table><tr><th>dataset</th><th>model</th><th>groups</th>'
             '<th>silhouette (2-D)</th><th>5-NN acc. (2-D, %)</th>'
             '<th>points</th></tr>' + rows + '</table>')] if rows else []


def _scatter(ax, emb, title, names=None):
    groups = emb['groups']
    for g in np.unique(groups):
        pts = emb['points'][groups == g]
        label = str(names[g]) if names is not None else str(g)
        ax.scatter(pts[:, 0], pts[:, 1], s=3, label=label)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    if names is not None:
        ax.legend(fontsize=6, markerscale=3)


def _provenance(run: PipelineRun) -> str:
    try:
        commit = subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
            text=True, cwd=osp.dirname(__file__), timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ''
    rows = []
    for seed in run.seeds:
        for key in run.stage_keys:
            record = run.records[seed].get(key)
            wall = record.get('wall_time_s') if record else None
            rows.append(
                f'<tr><td>{seed}</td><td>{html.escape(key)}</td><td>'
                f'{html.escape(osp.normpath(record["source"]) if record and record.get("source") else ("" if record else "missing"))}'
                f'</td><td>{"" if wall is None else f"{wall:.0f} s"}</td></tr>')
    return (f'<h2>Provenance</h2><p>commit {html.escape(commit or "unknown")}'
            f', seeds {run.seeds}</p><table><tr><th>seed</th><th>stage</th>'
            '<th>config</th><th>wall time</th></tr>' + ''.join(rows) +
            '</table>')


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>MLFD report: {title}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1em auto}}
figure{{display:inline-block;margin:.5em}} img{{max-width:100%}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 6px}}
.warn{{color:#a00}}</style></head>
<body><h1>MLFD report: {title}</h1>
{body}
</body></html>
"""
