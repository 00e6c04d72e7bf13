"""``--cfg-options`` keys that match nothing are refused before they are
merged (mmengine would silently add ``trian_cfg`` next to ``train_cfg``)."""
import difflib

# Top-level keys a config may lack and the command line may still set:
# read by mlfd_mm.config.complete_config, mmengine's Runner or the tools.
NEW_TOP_LEVEL_KEYS = ('pipeline_dir', 'randomness', 'load_from', 'resume',
                      'work_dir', 'launcher', 'env_cfg', 'log_level',
                      'default_scope', 'custom_imports', 'custom_hooks',
                      'auto_scale_lr', 'visualizer', 'experiment_name')
# A new leaf key this close to an existing sibling is taken for a typo of
# it (max_epoch / max_epochs); a less similar one is a new setting.
_TYPO_RATIO = 0.9

RULE = ('the top-level key must exist in the config or be one of '
        f'{list(NEW_TOP_LEVEL_KEYS)}; every key between it and the last '
        'must exist; the last may be new unless it is a near-spelling of an '
        'existing key beside it')


class UnknownConfigKeyError(KeyError):
    """A ``--cfg-options`` key that matches no setting of the config."""

    def __str__(self):
        return str(self.args[0])


def _nearest(key, candidates):
    found = difflib.get_close_matches(str(key), [str(c) for c in candidates],
                                      n=1, cutoff=0.5)
    return f"; the nearest existing key is '{found[0]}'" if found else ''


def _child(node, part):
    """(exists, value) of ``part`` in a dict or (an index) a list."""
    if isinstance(node, dict):
        return (part in node), node.get(part)
    if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit():
        index = int(part)
        return -len(node) <= index < len(node), (
            node[index] if -len(node) <= index < len(node) else None)
    return False, None


def check_cfg_options(cfg, options):
    """Raise UnknownConfigKeyError (a KeyError) naming each
    ``--cfg-options`` key that matches no
    setting of ``cfg`` and the nearest existing key (see :data:`RULE`).

    Args:
        cfg (mmengine.Config): the config, before the options are merged.
        options (dict): ``--cfg-options`` as DictAction parsed them.
    """
    bad = []
    for key in options or {}:
        parts = str(key).split('.')
        node, path = getattr(cfg, '_cfg_dict', cfg), []
        for depth, part in enumerate(parts):
            if node is None and depth > 0:
                break  # an unset setting (val_cfg=None) given afresh
            exists, value = _child(node, part)
            last = depth == len(parts) - 1
            if exists:
                node, path = value, path + [part]
                continue
            siblings = list(node.keys()) if isinstance(node, dict) else []
            where = '.'.join(path) if path else 'the config'
            if depth == 0 and part in NEW_TOP_LEVEL_KEYS:
                break
            if last and isinstance(node, dict) and depth > 0 and not \
                    difflib.get_close_matches(part, map(str, siblings), 1,
                                              _TYPO_RATIO):
                break  # a new setting of an existing dict
            bad.append(f"'{key}': {where} has no key '{part}'"
                       + _nearest(part, siblings))
            break
    if bad:
        raise UnknownConfigKeyError(
            '--cfg-options: unknown key(s), which would be silently ignored: '
            + '; '.join(bad) + f'. Rule: {RULE}.')
