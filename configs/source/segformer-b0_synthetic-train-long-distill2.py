# Fourth stage of the long class-weighted SegFormer-B0 recipe: a second
# distillation stage, from the last checkpoint of
# segformer-b0_synthetic-train-long-distill.py, with an ensemble teacher:
# the R18 and the R18 SelfNorm/CrossNorm source models, whose logits
# tta_seg.DistillEncoderDecoder averages (65.5 clean-val mIoU together,
# train class 51, against 64.9 / 65.4 alone, measured with the shipped
# files). Same weight (10), temperature (1) and schedule shape as the third
# stage: 4000 iterations with the learning rate warmed up to 3e-4 again,
# no stochastic depth, a new seed. Why: the third stage was still gaining
# at its end (61.0, 62.0, 61.9, 62.6 every 1000 iterations) with the
# distillation loss still falling. About 0.8 s per iteration on a quiet
# 2-core CPU (two teachers' forwards included); checkpoints every 500
# iterations, --resume continues it. Without the third stage's work dir,
# start from its exported weights with --cfg-options load_from=PATH:
# python tools/train.py configs/source/segformer-b0_synthetic-train-long-distill2.py \
#     [--resume]
_base_ = ['./segformer-b0_synthetic-train-long-distill.py']
load_from = 'work_dirs/segformer-b0_synthetic-train-long-distill/iter_4000.pth'
model = dict(
    teacher=[
        'configs/_base_/models/deeplabv3plus_r18_synthetic.py',
        'configs/sncn/deeplabv3plus_r18-sncn_synthetic.py'
    ],
    teacher_checkpoint=[
        'checkpoints/synthetic/deeplabv3plus_r18_synthetic.pth',
        'checkpoints/synthetic/deeplabv3plus_r18-sncn_synthetic.pth'
    ])
randomness = dict(seed=3)
