"""The report of a pipeline run, with the stages its config says it runs."""
import glob
import os.path as osp
import re
from typing import Optional, Sequence

from mmengine.config import Config

from ..report import write_report
from .pipeline import pipeline_stages


def report_pipeline_run(work_dir: str, config: Optional[str] = None,
                        seeds: Optional[Sequence[int]] = None,
                        embeddings: bool = True) -> str:
    """Write ``<work_dir>/report/index.html`` and return its path.

    Args:
        work_dir (str): The pipeline's work directory.
        config (str, optional): Its pipeline config; with it, the stages it
            runs (also those it shares through ``stages_of``) are read where
            the pipeline keeps them and unfinished ones are named missing.
        seeds (Sequence[int], optional): Default: every ``seed<k>`` present.
        embeddings (bool): Draw the t-SNE embeddings.
    """
    if config is None:
        return write_report(work_dir, embeddings=embeddings)
    pipe = Config.fromfile(config)
    if seeds is None:
        seeds = sorted(int(m.group(1)) for m in (
            re.fullmatch(r'seed(\d+)', osp.basename(p))
            for p in glob.glob(osp.join(work_dir, 'seed*'))) if m)
    # where the pipeline keeps each stage (also those of `stages_of`)
    stage_dirs = {seed: {stage.key: stage.work_dir for stage in
                         pipeline_stages(pipe, work_dir, seed, config)}
                  for seed in seeds}
    return write_report(work_dir, stage_dirs or None,
                        table=pipe.get('table'), dataset=pipe.get('dataset'),
                        embeddings=embeddings)
