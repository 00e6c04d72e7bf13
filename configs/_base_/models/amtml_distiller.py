# AMTML-KD (Liu, Zhang and Wang, 2020): a student taught by several frozen
# teachers on one label space, through an integrated soft target whose
# teacher weights are learned per instance, and multi-group hints (teacher j
# supervises student stage g(j)). Defaults of the authors' released code:
# alpha = 0.7 (kd = 2 * alpha, ce = 1 - alpha), T = 5, RKD distance + angle
# on the integrated target, L2 penalty 0.1 on the teacher latents.
# A config that inherits this sets `student`, `teachers` (name, stage-1
# config, checkpoint) and `hints` ({teacher: dict(teacher_stage,
# student_stage)}).
model = dict(
    type='AMTMLDistiller',
    student=None,
    teachers=[],
    hints=dict(),
    adaptive=True,
    loss_weights=dict(kd=1.4, ce=0.3, rkd=1.0, hint=1.0, latent_l2=0.1),
    temperature=5.0,
)
# Per-epoch mean and spread of each teacher's weight mu, logged and written
# to <work_dir>/teacher_weights.json (read by tools/teacher_weights.py).
custom_hooks = [dict(type='TeacherWeightsHook')]
