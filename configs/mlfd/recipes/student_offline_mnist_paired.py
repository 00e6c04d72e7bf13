# Not the paper's recipe (issue #14): the default mnist student, starting from
# the random *initial* weights of its dataset's stage-1 run of the same seed
# (student_init='paired', filled in by tools/run_pipeline.py), so that it and
# the dataset-specific model differ only by the teacher.
_base_ = ['../student_offline_mnist.py']
model = dict(student_init='paired')
