# The fashion ResNet-18 teacher of the AMTML-KD comparison with the quarter-
# width student (configs/pipelines/amtml_fashion_w4.py, issue #15), trained
# twice as long as the offline schedule: 40 epochs, the cosine phase ending
# at the last one. On 20 epochs it was still underfitting (training loss 0.60
# at the end, 43-45 % val acc@1 at epochs 5 and 10) and only 2.9 points above
# the student alone; see the README, AMTML-KD against MLFD on one label space.
_base_ = ['./offline_fashion_resnet18.py']
train_cfg = dict(max_epochs=40)
