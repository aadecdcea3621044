# SVDP (AAAI 2024) with the published hyper-parameters of the official
# segmentation code (bash/svdp.sh, first line; its log: 60.3 / 61.4 / 61.4
# over 3 rounds on Cityscapes -> ACDC with SegFormer-B5): CoTTA's teacher-
# student as in ./cotta.py (EMA 0.999, anchor gate 0.69, 14 views now
# carrying the teacher's prompt, hard labels, restoration 0.01), plus
# prompts on 0.1% of the 540x960 input (518 pixels) at the most
# MC-dropout-uncertain pixels (10 samples, dropout 0.5), Adam lr 1e-4 for
# the prompt and for every model parameter, prompt EMA
# 0.999 - 0.1 * mean uncertainty. Prompts start at 0 and learn (the
# official ones stay at their random init: set prompt_init_std=1.0,
# prompt_lr=0 to reproduce that).
_base_ = ['./cotta.py']
adapter = dict(
    type='SVDP',
    sparse_ratio=1e-3,
    prompt_shape=(540, 960),
    prompt_lr=1e-4,
    prompt_init_std=0.0,
    uncertainty_scale=0.1,
    mc_samples=10,
    mc_dropout=0.5,
    classifier_name='decode_head.conv_seg',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)))
