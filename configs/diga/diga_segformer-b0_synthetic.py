_base_ = [
    '../_base_/models/segformer_mit-b0_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/diga.py'
]
# SegFormer has a single BN (decode head): here DIGA is almost only its
# prototype classifier.
