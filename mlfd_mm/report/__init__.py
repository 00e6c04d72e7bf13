"""The report of a pipeline run: results chart, training curves, t-SNE
embeddings and provenance, as ``<work_dir>/report/index.html``."""
from .page import student_verdict, write_report
from .run_reader import PipelineRun, epoch_curves, read_scalars

__all__ = ['PipelineRun', 'epoch_curves', 'read_scalars', 'student_verdict',
           'write_report']
