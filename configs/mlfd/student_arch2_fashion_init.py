# Not the paper's recipe (issue #14): student_arch2_fashion.py (default recipe)
# starting from its dataset's stage-1 weights (the pipeline fills them in).
_base_ = ['./student_arch2_fashion.py']
model = dict(student_init='stage1')
