"""Checks that turn a bad config into a clear error before any work starts."""
import os.path as osp

_DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _iter_data_roots(node, key_path):
    """Yield (config key path, data_root) for every ``data_root`` below node."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f'{key_path}.{key}'
            if key == 'data_root' and isinstance(value, str) and value:
                yield child, value
            else:
                yield from _iter_data_roots(value, child)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _iter_data_roots(value, f'{key_path}[{i}]')


def check_data_roots(cfg, phases=_DATALOADER_KEYS):
    """Raise FileNotFoundError naming the config key and path of a missing
    ``data_root`` in the dataloaders the run will build.

    Args:
        cfg (mmengine.Config): the full config.
        phases (Sequence[str]): dataloader keys to check.
    """
    for phase in phases:
        loader = cfg.get(phase)
        if not loader:
            continue
        for key_path, root in _iter_data_roots(loader, phase):
            if osp.isdir(root):
                continue
            hint = ''
            if 'offline' in root.replace('\\', '/').split('/'):
                hint = (' Build the offline datasets with '
                        '`python tools/prepare_offline_data.py` (or '
                        '`make data`).')
            raise FileNotFoundError(
                f'{key_path} = {root!r}: data root does not exist '
                f'(resolved to {osp.abspath(root)!r}).{hint}')
