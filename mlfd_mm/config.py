"""Config references: a model config given as a dict or as a config file.

Teachers, students, joint teachers and the tools all accept "a config": a
model config dict, a whole config (with a ``model``), or the path of a config
file. :func:`resolve_model_config` turns any of them into one plain model
config dict and the scope (toolbox) to build it under.
"""
import copy
import os.path as osp
from typing import Optional, Tuple, Union

from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

ConfigRef = Union[str, dict, Config]

# The scope of a model config that names none and is built where no default
# scope is set.
FALLBACK_SCOPE = 'mmpretrain'


def as_dict(cfg) -> dict:
    """A plain, deep-copied dict of a ``ConfigDict``, ``Config`` or dict.

    Args:
        cfg (dict | ConfigDict | Config): The config.

    Returns:
        dict: A copy that shares nothing with ``cfg``; nested ConfigDicts
        become plain dicts.
    """
    if isinstance(cfg, Config):
        return cfg.to_dict()
    if isinstance(cfg, ConfigDict):
        return cfg.to_dict()
    return copy.deepcopy(dict(cfg))


def load_config_file(path: str, what: str) -> Config:
    """Read a config file, or fail naming what it was for.

    Args:
        path (str): The config file.
        what (str): What the file is, for messages (``'student'``,
            ``"teacher 'mnist'"``, ...).

    Returns:
        Config: The parsed config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what}: config file not found: {path}')
    return Config.fromfile(path)


def whole_config(ref: ConfigRef, what: str) -> Optional[Config]:
    """The whole config a reference comes from, if it is one.

    Args:
        ref (str | dict | Config): A config file path, a whole config (a
            ``Config``, or a dict with a ``model`` and no ``type``), or a
            model config dict.
        what (str): What the config is, for messages.

    Returns:
        Config | None: The whole config (with its pipelines, dataloaders,
        ``default_scope``), or None when ``ref`` is a model config dict.
    """
    if isinstance(ref, str):
        return load_config_file(ref, what)
    if isinstance(ref, Config):
        return ref
    if not isinstance(ref, dict):
        raise TypeError(f'{what}: a config must be a file path or a dict, '
                        f'got {type(ref).__name__}')
    if 'model' in ref and 'type' not in ref:
        return Config(as_dict(ref))
    return None


def model_scope(model: dict, default_scope: Optional[str] = None) -> str:
    """The scope to build a model config under.

    Args:
        model (dict): The model config.
        default_scope (str, optional): The scope when the model names none.

    Returns:
        str: The model's ``_scope_``, else ``default_scope``, else mmengine's
        current default scope, else ``'mmpretrain'``.
    """
    if model.get('_scope_'):
        return model['_scope_']
    if default_scope:
        return default_scope
    current = DefaultScope.get_current_instance()
    return current.scope_name if current is not None else FALLBACK_SCOPE


def resolve_model_config(ref: ConfigRef,
                         what: str,
                         default_scope: Optional[str] = None
                         ) -> Tuple[dict, str]:
    """A model config and its scope, from a dict or a config file.

    From a file (or a whole config), the model is the config's ``model``;
    the config's top-level ``data_preprocessor`` becomes the model's when
    the model has none (as mmengine's Runner does), and the config's
    ``default_scope`` becomes the model's ``_scope_`` when it has none.

    Args:
        ref (str | dict | Config): A model config dict, a whole config (with
            a ``model``), or the path of a config file.
        what (str): What the config is, for messages (``'student'``,
            ``'teacher.config'``, ``"teacher 'mnist'"``).
        default_scope (str, optional): The scope when neither the model nor
            its config names one. Defaults to mmengine's current default
            scope, else ``'mmpretrain'``.

    Returns:
        tuple[dict, str]: A plain copy of the model config, and its scope.
    """
    whole = whole_config(ref, what)
    if whole is None:
        model = as_dict(ref)
        return model, model_scope(model, default_scope)
    if not whole.get('model'):
        source = ref if isinstance(ref, str) else 'the config'
        raise KeyError(f'{what}: {source} has no `model`')
    model = as_dict(whole.model)
    if not model.get('data_preprocessor') and whole.get('data_preprocessor'):
        model['data_preprocessor'] = as_dict(whole.data_preprocessor)
    if not model.get('_scope_') and whole.get('default_scope'):
        model['_scope_'] = whole.default_scope
    return model, model_scope(model, default_scope)
