"""The files a pipeline stage leaves: its record (``stage.json``), written
atomically, with paths relative to the stage directory so that a moved work
directory stays done, and what tells a finished stage from a stale one
(its fingerprint and its checkpoint's digest).

A record::

    dict(key='teachers/mnist', seed=0,
         checkpoint='best_accuracy_top1_epoch_5.pth',  # relative to the
         config='config.py',                           # stage directory
         source='configs/teachers/offline_mnist_resnet18.py',
         metrics={...}, wall_time_s=12.3,
         checkpoint_sha256='...', checkpoint_size=..., checkpoint_mtime_ns=...,
         fingerprint=dict(config='<sha256 of the resolved config>',
                          inputs={'teachers/mnist': '<its checkpoint_sha256>'}))

:func:`read_record` returns it with absolute paths (older records with
absolute paths still read; if they point into the directory the stage was
moved from, the file of the same name in the stage directory is taken).
"""
import difflib
import hashlib
import json
import os
import os.path as osp

from ..atomic_files import atomic_write_json, file_sha256

RECORD = 'stage.json'
# The cache build's times, written by tools/train.py --build-cache.
CACHE_TIMES = 'cache_times.json'
# The resolved config a stage finished with (what its fingerprint hashes),
# kept to say what changed. Not named config.py: readers of a run take every
# config.py for a stage.
RESOLVED = '.resolved_config.py'
_PATH_KEYS = ('checkpoint', 'config')


def text_sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_identity(path):
    """``checkpoint_sha256``, ``checkpoint_size``, ``checkpoint_mtime_ns``
    of a checkpoint file."""
    st = os.stat(path)
    return dict(checkpoint_sha256=file_sha256(path),
                checkpoint_size=st.st_size,
                checkpoint_mtime_ns=st.st_mtime_ns)


def checkpoint_changed(record):
    """Why the record's checkpoint is not the file it finished with, or
    None. Size and mtime unchanged: trusted without reading the file."""
    path = record['checkpoint']
    if 'checkpoint_sha256' not in record:  # an older record: digest it now
        record.update(checkpoint_identity(path))
        return None
    st = os.stat(path)
    if (st.st_size, st.st_mtime_ns) == (record.get('checkpoint_size'),
                                        record.get('checkpoint_mtime_ns')):
        return None
    if (st.st_size == record.get('checkpoint_size')
            and file_sha256(path) == record['checkpoint_sha256']):
        return None  # copied: same content, new mtime
    return (f'its checkpoint {path} changed since the stage finished '
            f'(sha256 recorded {record["checkpoint_sha256"][:12]})')


def relative_to(path, stage_dir):
    """``path`` relative to ``stage_dir`` (both followed through links)."""
    return osp.relpath(osp.realpath(path), osp.realpath(stage_dir))


def write_record(stage_dir, record):
    """Write ``stage.json`` with checkpoint and config relative to
    ``stage_dir``; return the record as given (absolute paths)."""
    stored = dict(record)
    for key in _PATH_KEYS:
        if stored.get(key):
            stored[key] = relative_to(stored[key], stage_dir)
    atomic_write_json(osp.join(stage_dir, RECORD), stored)
    return record


def _resolve(path, stage_dir):
    if not osp.isabs(path):
        return osp.normpath(osp.join(stage_dir, path))
    if not osp.exists(path):
        # An older record of a moved directory: its absolute path points to
        # where the stage was; take the file of that name here.
        here = osp.join(stage_dir, osp.basename(path))
        if osp.exists(here):
            return here
    return path


def read_record(stage_dir):
    """``stage.json`` with absolute paths, or None if there is none (a
    torn record counts as none)."""
    try:
        with open(osp.join(stage_dir, RECORD)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    for key in _PATH_KEYS:
        if record.get(key):
            record[key] = _resolve(record[key], stage_dir)
    return record


def config_change(stage_dir, text, limit=8):
    """What differs between the resolved config a stage finished with and
    ``text``: a few lines of a diff."""
    try:
        with open(osp.join(stage_dir, RESOLVED)) as f:
            old = f.read()
    except OSError:
        return 'the resolved config it finished with is not kept'
    lines = [line for line in difflib.unified_diff(
        old.splitlines(), text.splitlines(), 'finished', 'now', n=0,
        lineterm='') if line[:1] in '+-' and line[:3] not in ('---', '+++')]
    shown = '; '.join(line.strip() for line in lines[:limit])
    more = f' (+{len(lines) - limit} more lines)' if len(lines) > limit else ''
    return shown + more


def keep_previous(log_file):
    """Rename an earlier attempt's log to ``<log>.1`` (then ``.2``, ...: the
    numbers follow the attempts' order) before a new attempt writes it."""
    if not osp.isfile(log_file) or os.path.getsize(log_file) == 0:
        return None
    n = 1
    while osp.exists(f'{log_file}.{n}'):
        n += 1
    os.rename(log_file, f'{log_file}.{n}')
    return f'{log_file}.{n}'


# What a run leaves that another run of the stage must not resume or reuse.
_RUN_FILES = (RECORD, RESOLVED, 'last_checkpoint', 'test_metrics.json',
              'attempt.json', 'export')


def set_aside(stage_dir):
    """Move a stale run's record, checkpoints and export to
    ``<stage_dir>/superseded/<n>/`` (kept, not deleted) so that the next
    run starts afresh. Returns that directory, or None if nothing moved."""
    names = [n for n in os.listdir(stage_dir)
             if n in _RUN_FILES or n.endswith('.pth')]
    if not names:
        return None
    n = 1
    while osp.exists(osp.join(stage_dir, 'superseded', str(n))):
        n += 1
    aside = osp.join(stage_dir, 'superseded', str(n))
    os.makedirs(aside)
    for name in names:
        os.rename(osp.join(stage_dir, name), osp.join(aside, name))
    return aside


def stage_times(train, cache=None):
    """A stage record's times: ``wall_time_s`` and ``cpu_time_s`` (process
    user + system, with its loader workers) of the whole stage, and, for a
    stage that builds a cache, those of the training and the cache build
    apart."""
    def total(key):
        return train[key] + (cache[key] if cache else 0.0)

    times = dict(wall_time_s=round(total('wall_time_s'), 1),
                 cpu_time_s=round(total('cpu_time_s'), 1))
    if cache:
        times.update(
            train_wall_time_s=round(train['wall_time_s'], 1),
            train_cpu_time_s=round(train['cpu_time_s'], 1),
            cache_wall_time_s=round(cache['wall_time_s'], 1),
            cache_cpu_time_s=round(cache['cpu_time_s'], 1))
    return times
