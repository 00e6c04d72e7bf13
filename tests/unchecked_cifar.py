"""Imported by the stages of the tiny T1 pipeline run
(``custom_imports``): mmpretrain's CIFAR100 checks the md5 sums of the
official release's pickles, which a synthetic copy in the same layout
(``paper_data.make_cifar100``) cannot match, so its checksums are off in
those processes only."""
from mmpretrain.datasets import CIFAR100

CIFAR100.train_list = [[name, None] for name, _ in CIFAR100.train_list]
CIFAR100.test_list = [[name, None] for name, _ in CIFAR100.test_list]
