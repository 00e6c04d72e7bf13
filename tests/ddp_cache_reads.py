"""One rank of test_cache_ddp.py, run under torchrun (gloo, CPU):

    python -m torch.distributed.run --standalone --nproc_per_node 2 \
        tests/ddp_cache_reads.py SPEC.json OUT_DIR

SPEC.json maps a name to a dataloader config (a CachedFeatureDataset and
its sampler). Each loader is built as mmengine's Runner builds it (its
sampler learns rank and world size from the process group; one forked
worker reads the cache) and iterated for one epoch; the rank writes
``OUT_DIR/rank<r>.json``: per loader, the sampler's indices and, per
sample in the order it came, its image path, label, feature row (sha256)
and cache id.
"""
import hashlib
import json
import os.path as osp
import sys


def main(spec_file, out_dir):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mlfd_mm  # noqa: F401  (compat fixes first)
    import torch
    import torch.distributed as dist
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from mlfd_mm.cache.reader import CACHE_ID_KEY, FEATURES_FIELD
    torch.set_num_threads(1)
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    with open(spec_file) as f:
        spec = json.load(f)
    out = dict(world_size=dist.get_world_size())
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for key, loader_cfg in spec.items():
            loader = Runner.build_dataloader(loader_cfg, seed=0)
            samples = []
            for batch in loader:
                for sample in batch['data_samples']:
                    row = sample.get(FEATURES_FIELD)
                    samples.append(dict(
                        img_path=sample.img_path,
                        label=int(sample.gt_label),
                        row=hashlib.sha256(row.tobytes()).hexdigest(),
                        cache_id=sample.metainfo[CACHE_ID_KEY]))
            out[key] = dict(sampler=[int(i) for i in loader.sampler],
                            samples=samples)
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main(*sys.argv[1:3])
