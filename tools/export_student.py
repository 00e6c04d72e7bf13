"""Export the student of an MLFD (or AMTML-KD) distiller as a stock
OpenMMLab model.

    python tools/export_student.py CONFIG CHECKPOINT OUT_DIR

CONFIG is the distiller's training config (e.g.
configs/mlfd/student_offline_mnist.py) and CHECKPOINT a checkpoint of that
run. Writes ``OUT_DIR/student.pth`` (the student's weights alone, loadable
with ``torch.load(weights_only=True)``) and ``OUT_DIR/student_config.py`` (a
standalone config that references nothing of mlfd_mm; see
:mod:`mlfd_mm.apis.export`). E.g.::

    from mmpretrain.apis import ImageClassificationInferencer
    inferencer = ImageClassificationInferencer(
        'OUT_DIR/student_config.py', pretrained='OUT_DIR/student.pth')

    # a video (mmaction2) student
    from mmaction.apis import inference_recognizer, init_recognizer
    model = init_recognizer('OUT_DIR/student_config.py',
                            'OUT_DIR/student.pth', device='cpu')
    result = inference_recognizer(model, 'clip.mp4')  # .pred_score
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.apis.export import export_student  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export the student of an MLFD distiller checkpoint as a '
        'stock checkpoint + config')
    parser.add_argument('config', help='the distiller training config')
    parser.add_argument('checkpoint', help='a checkpoint of that run')
    parser.add_argument('out_dir', help='where student.pth and '
                        'student_config.py are written')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    ckpt_path, cfg_path = export_student(args.config, args.checkpoint,
                                         args.out_dir)
    print(f'student checkpoint: {ckpt_path}')
    print(f'student config:     {cfg_path}')
    return ckpt_path, cfg_path


if __name__ == '__main__':
    main()
