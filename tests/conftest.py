"""Shared fixtures. ``import mlfd_mm`` comes first: it applies the compat
fixes, which must precede any torchvision import."""
import os
import os.path as osp
import subprocess
import sys

import mlfd_mm  # noqa: F401  (must stay the first project import)
import pytest
import torch

# The suite runs tiny models: one thread avoids oversubscribing small
# machines, where a second thread costs more than it gives.
torch.set_num_threads(1)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
PYTHON = sys.executable


@pytest.fixture(scope='module')
def at_repo_root():
    """Run a test module in the repository root: configs name each other by
    paths relative to it. Use with
    ``pytestmark = pytest.mark.usefixtures('at_repo_root')``."""
    old = os.getcwd()
    os.chdir(REPO)
    yield
    os.chdir(old)


@pytest.fixture(scope='session')
def tiny_offline_root(tmp_path_factory):
    """Small real offline datasets (100 training images each) in a temp dir."""
    from mlfd_mm.datasets.offline import build_offline_dataset
    root = tmp_path_factory.mktemp('offline')
    for name in ('mnist', 'fashion', 'animals'):
        build_offline_dataset(name, root=str(root), train_size=100, seed=0)
    return str(root)


def run_tool(*args, env=None, timeout=300, check=True):
    """Run a command from the repo root in a fresh process; return it."""
    full_env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
                    PYTHON=PYTHON)
    full_env.update(env or {})
    proc = subprocess.run(
        [str(a) for a in args], cwd=REPO, env=full_env, capture_output=True,
        text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(map(str, args))} exited {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-4000:]}\n'
            f'--- stderr ---\n{proc.stderr[-4000:]}')
    return proc
