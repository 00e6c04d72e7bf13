"""Run one of the analysis tools that ship inside the mmpretrain package
(``analysis_tools/confusion_matrix.py``, ``visualization/vis_tsne.py``,
``analysis_tools/analyze_logs.py``, ...) with this project's compatibility
fixes applied first, e.g. on an exported student:

    python tools/mmpretrain_tool.py analysis_tools/confusion_matrix.py \\
        EXPORT/student_config.py EXPORT/student.pth --show-path cm.png

On a stack where stock mmpretrain imports by itself (a CUDA torch with its
matching torchvision), run the shipped script directly instead.
"""
import os.path as osp
import runpy
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
import mlfd_mm  # noqa: E402,F401  (compat fixes before torchvision)
import mmpretrain  # noqa: E402


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    tools = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return
    script = osp.join(tools, argv[0])
    if not osp.isfile(script):
        raise SystemExit(
            f'mmpretrain_tool: {argv[0]!r} is not a tool of the installed '
            f'mmpretrain (looked in {tools}, e.g. '
            'analysis_tools/confusion_matrix.py, visualization/vis_tsne.py)')
    sys.argv = [script] + argv[1:]
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
