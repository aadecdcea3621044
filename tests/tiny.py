"""Tiny segmentors and batches for CPU tests (milliseconds per step)."""
import copy
import os
import os.path as osp

import cv2

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import nn

import tta_seg  # noqa: F401  (mmcv._ext stub before mmseg.models)
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample
from tta_seg.registry import MODELS

NUM_CLASSES = 5
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
_PREPROCESSOR = dict(type='SegDataPreProcessor', mean=MEAN, std=STD,
                     bgr_to_rgb=True, pad_val=0, seg_pad_val=255)

_BN = dict(
    type='EncoderDecoder',
    data_preprocessor=_PREPROCESSOR,
    backbone=dict(type='ResNetV1c', depth=18, base_channels=4,
                  stem_channels=8, num_stages=4, out_indices=(0, 1, 2, 3),
                  dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2),
                  norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch', contract_dilation=True),
    decode_head=dict(type='FCNHead', in_channels=32, in_index=3, channels=8,
                     num_convs=1, concat_input=False, dropout_ratio=0.0,
                     num_classes=NUM_CLASSES,
                     norm_cfg=dict(type='BN', requires_grad=True),
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))

_LN = dict(
    type='EncoderDecoder',
    data_preprocessor=_PREPROCESSOR,
    backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=8,
                  num_stages=4, num_layers=[1, 1, 1, 1],
                  num_heads=[1, 2, 4, 8], patch_sizes=[7, 3, 3, 3],
                  sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3),
                  mlp_ratio=2, qkv_bias=True, drop_rate=0.0,
                  attn_drop_rate=0.0, drop_path_rate=0.0),
    decode_head=dict(type='SegformerHead', in_channels=[8, 16, 32, 64],
                     in_index=[0, 1, 2, 3], channels=16, dropout_ratio=0.0,
                     num_classes=NUM_CLASSES,
                     norm_cfg=dict(type='BN', requires_grad=True),
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))


@MODELS.register_module(force=True)
class TinyPlainSegmentor(BaseSegmentor):
    """A user's own ``BaseSegmentor`` without ``decode_head``/``backbone``
    (as one brought in by ``custom_imports``): conv-BN-ReLU, conv-GN-ReLU
    at stride 2 and a 1x1 ``classifier``. It implements mmseg's
    ``BaseSegmentor`` API plus ``inference`` (``EncoderDecoder``'s name of
    the whole-image prediction, which adapters call).

    Args:
        num_classes (int): Output classes.
        channels (int): Feature channels.
        data_preprocessor (dict, optional): mmseg data preprocessor config.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, channels: int = 8,
                 data_preprocessor: dict = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.align_corners = False
        self.features = nn.Sequential(
            nn.Conv2d(3, channels, 3, 2, 1), nn.BatchNorm2d(channels),
            nn.ReLU(), nn.Conv2d(channels, channels, 3, 1, 1),
            nn.GroupNorm(2, channels), nn.ReLU())
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def extract_feat(self, inputs):
        return self.features(inputs)

    def encode_decode(self, inputs, batch_img_metas=None):
        logits = self.classifier(self.extract_feat(inputs))
        return F.interpolate(logits, size=inputs.shape[-2:], mode='bilinear',
                             align_corners=self.align_corners)

    def inference(self, inputs, batch_img_metas):
        return self.encode_decode(inputs, batch_img_metas)

    def loss(self, inputs, data_samples):
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples])
        return dict(loss_ce=F.cross_entropy(
            self.encode_decode(inputs), labels.long(), ignore_index=255))

    def predict(self, inputs, data_samples=None):
        metas = [s.metainfo for s in data_samples] if data_samples else None
        return self.postprocess_result(self.inference(inputs, metas),
                                       data_samples)

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs)


_PLAIN = dict(type='TinyPlainSegmentor', data_preprocessor=_PREPROCESSOR)


def tiny_segmentor_cfg(kind: str = 'bn') -> dict:
    """Config of a tiny segmentor: EncoderDecoder 'bn' (ResNet+FCN) or 'ln'
    (MiT), or 'plain' (:class:`TinyPlainSegmentor`, no decode head)."""
    return copy.deepcopy(dict(bn=_BN, ln=_LN, plain=_PLAIN)[kind])


def make_batch(n: int = 2, height: int = 32, width: int = 48,
               seed: int = 0, with_labels: bool = True) -> dict:
    """A dataloader-style batch: uint8 CHW images and SegDataSamples."""
    gen = np.random.default_rng(seed)
    inputs, samples = [], []
    for i in range(n):
        img = gen.integers(0, 256, (3, height, width), dtype=np.uint8)
        inputs.append(torch.from_numpy(img))
        sample = SegDataSample(metainfo=dict(
            img_path=f'/data/fog/img{i}.png',
            seg_map_path=f'/data/fog/img{i}_gt.png',
            ori_shape=(height, width), img_shape=(height, width),
            pad_shape=(height, width), scale_factor=(1.0, 1.0), flip=False))
        gt = gen.integers(0, NUM_CLASSES, (1, height, width))
        if with_labels:  # drawn either way: same images with or without
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


H, W, N_IMAGES = 32, 48, 3
#: split -> brightness shift: two "domains" and a source val split
TINY_SPLITS = {'a': 0, 'b': 60, 'val': 0}


def _write_split(root: str, split: str, shift: int, seed: int) -> None:
    gen = np.random.default_rng(seed)
    for i in range(N_IMAGES):
        stem = f'city_000000_{i:06d}'
        label = np.repeat(np.arange(NUM_CLASSES), W // NUM_CLASSES + 1)[:W]
        label = np.tile(label, (H, 1)).astype(np.uint8)
        img = (label[..., None] * 40 + gen.integers(0, 30, (H, W, 3)) +
               shift).clip(0, 255).astype(np.uint8)
        for folder, suffix, arr in (('leftImg8bit', 'leftImg8bit', img),
                                    ('gtFine', 'gtFine_labelTrainIds',
                                     label)):
            path = osp.join(root, folder, split, 'city',
                            f'{stem}_{suffix}.png')
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, arr)


def write_tiny_cityscapes(root: str) -> str:
    """Tiny Cityscapes-layout data: splits 'a', 'b' (domains) and 'val'."""
    for seed, (split, shift) in enumerate(TINY_SPLITS.items()):
        _write_split(root, split, shift, seed)
    return root


def tiny_dataset_cfg(root: str, split: str) -> dict:
    """CityscapesDataset config over one split of the tiny data."""
    return dict(type='CityscapesDataset', data_root=root,
                data_prefix=dict(img_path=f'leftImg8bit/{split}',
                                 seg_map_path=f'gtFine/{split}'),
                pipeline=[dict(type='LoadImageFromFile'),
                          dict(type='LoadAnnotations'),
                          dict(type='PackSegInputs')])
