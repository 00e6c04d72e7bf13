# Recipe variant (issue #14): the current weights, distilling only the deepest level (student stage 4 -> joint l3).
_base_ = ['./student_offline_fashion_diag.py']
model = dict(distill=[(4, 'l3')])
