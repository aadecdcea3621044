# The embedded stream with its four conditions mixed: every round, the 200
# images of fog, night, rain and snow are shuffled into one stream (seeded,
# a new shuffle each round). Per-domain mIoU is still reported by
# regrouping; results.json's `mixed` holds the whole stream's mIoU.
_base_ = ['./synthetic_3rounds.py']
test_cfg = dict(mixed=True)
