# offline_arch2.py's students with the authors' loss weights (0.6 KD at
# T = 2, 0.2 feature MSE, 0.2 CE); its teachers and joint teacher are the
# runs of offline_arch2.py (trained there if missing).
#   python tools/run_pipeline.py configs/pipelines/offline_arch2_authors.py --seeds 0 1 2
_base_ = ['./offline_arch2.py']
name = 'offline_arch2_authors'
stages_of = '{{fileDirname}}/offline_arch2.py'
students = dict(
    fashion='{{fileDirname}}/../mlfd/student_arch2_fashion_authors.py',
    digits='{{fileDirname}}/../mlfd/student_arch2_digits_authors.py',
)
