"""Files that readers see whole or not at all, and their digests.

Everything this project writes for another run to trust (stage records,
cache manifests and shards, exports, results, metrics, converted
annotation files, report pages) goes through :func:`atomic_write`: a
temporary name in the same directory, fsync, rename, fsync of the
directory. A killed writer leaves the old file (or none), never a part.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Callable


def fsync_dir(directory: str) -> None:
    """Make a rename in ``directory`` durable (best effort: some file
    systems refuse to fsync a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable, mode: str = 'w') -> str:
    """Write ``path`` through ``write(file)`` on a temporary name, fsync it
    and rename it into place; return ``path``.

    Args:
        path (str): The file to write; its directory is created.
        write (callable): ``write(f)`` writes the content to the open file.
        mode (str): ``'w'`` (text) or ``'wb'`` (bytes).
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        with open(tmp, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    fsync_dir(directory)
    return path


def atomic_write_text(path: str, text: str) -> str:
    return atomic_write(path, lambda f: f.write(text))


def atomic_write_json(path: str, value, **dump_kwargs) -> str:
    """``value`` as JSON (``indent=2`` unless ``dump_kwargs`` say
    otherwise)."""
    dump_kwargs.setdefault('indent', 2)
    return atomic_write(path, lambda f: json.dump(value, f, **dump_kwargs))


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()
