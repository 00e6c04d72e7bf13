# Not the paper's recipe (issue #14): student_arch2_fashion.py (default recipe)
# starting from the random *initial* weights of its dataset's stage-1 run of
# the same seed (student_init='paired', filled in by tools/run_pipeline.py).
_base_ = ['../student_arch2_fashion.py']
model = dict(student_init='paired')
