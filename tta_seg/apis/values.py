"""Values of a resolved run config checked before anything is built.

A value of the wrong type or range (``--cfg-options
adapter.optim_wrapper.optimizer.lr=abc``, ``test_cfg.rounds=0``,
``test_dataloader.batch_size=0``) would otherwise fail deep inside torch
or mmengine with a message that names neither key nor value, be reported
as a data problem, or, worse, finish "successfully" with nothing
measured. :func:`check_values` refuses them at build time with a
:class:`ConfigValueError` naming the key, the value and what is expected.

Checked:

* the stream: ``test_cfg.rounds`` an integer >= 1;
* the loader: ``test_dataloader.batch_size`` an integer >= 1,
  ``num_workers`` an integer >= 0;
* every optimizer of the adapter (``optim_wrapper.optimizer`` anywhere in
  it, and a SAM optimizer's ``base_optimizer``): ``lr``, ``momentum``,
  ``weight_decay``, ``eps``, ``dampening``, ``rho``, ``alpha`` finite
  numbers >= 0 where given as one number; ``betas`` two numbers in [0, 1);
* the adapter's and the loop's constructor arguments against their type
  annotations where these are ``int``, ``float`` or ``bool`` (or
  ``Optional`` of one): e.g. ``adapter.alpha_teacher='x'`` is refused.

Keys are named as a user overrides them: ``adapter.*`` for the method,
``model.*`` for the segmentor.
"""
import inspect
import math
import numbers
import typing
from typing import Iterator, Optional, Tuple

#: Optimizer arguments that must be finite numbers >= 0.
OPTIMIZER_NUMBERS = ('lr', 'momentum', 'weight_decay', 'eps', 'dampening',
                     'rho', 'alpha')
#: Annotations checked by type (others, e.g. ``str`` paths, are left to
#: the constructors).
CHECKED_TYPES = (bool, int, float)


class ConfigValueError(ValueError):
    """A config value of the wrong type or range."""


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _refuse(key: str, value, expected: str) -> None:
    raise ConfigValueError(f'{key}={value!r}: expected {expected} (set it '
                           'in the config or with --cfg-options)')


def check_count(key: str, value, minimum: int) -> None:
    """``value`` must be an integer >= ``minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
            or value < minimum:
        _refuse(key, value, f'an integer >= {minimum}')


def check_number(key: str, value, minimum: float = 0.0) -> None:
    """``value`` must be a finite real number >= ``minimum``."""
    if not _is_number(value) or not math.isfinite(value) or value < minimum:
        _refuse(key, value, f'a finite number >= {minimum:g}')


def check_values(cfg) -> None:
    """Check a composed run config (``cfg.model`` = the adapter).

    Raises:
        ConfigValueError: Naming the first bad key, its value and what is
            expected.
    """
    test_cfg = cfg.get('test_cfg') or {}
    if 'rounds' in test_cfg:
        check_count('test_cfg.rounds', test_cfg['rounds'], 1)
    loader = cfg.get('test_dataloader') or {}
    if 'batch_size' in loader:
        check_count('test_dataloader.batch_size', loader['batch_size'], 1)
    if 'num_workers' in loader:
        check_count('test_dataloader.num_workers', loader['num_workers'], 0)
    model = cfg.get('model') or {}
    for key, optimizer in _optimizers(model, 'adapter'):
        _check_optimizer(key, optimizer)
    from tta_seg.registry import LOOPS, MODELS
    _check_annotated(model, MODELS, 'adapter', skip=('segmentor', ))
    _check_annotated(test_cfg, LOOPS, 'test_cfg')


def _optimizers(node, prefix: str) -> Iterator[Tuple[str, dict]]:
    """``(key, optimizer dict)`` of every ``optim_wrapper.optimizer``
    below ``node`` (the segmentor is not the adapter's to train)."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == 'segmentor':
            continue
        path = f'{prefix}.{key}'
        if key == 'optimizer' and prefix.endswith('optim_wrapper') and \
                isinstance(value, dict):
            yield path, value
        else:
            yield from _optimizers(value, path)


def _check_optimizer(key: str, optimizer: dict) -> None:
    for name in OPTIMIZER_NUMBERS:
        value = optimizer.get(name)
        if value is not None and not isinstance(value, (list, tuple)):
            check_number(f'{key}.{name}', value)  # None/tuples: optimizer's
    if isinstance(optimizer.get('base_optimizer'), dict):  # SAM (SAR)
        _check_optimizer(f'{key}.base_optimizer', optimizer['base_optimizer'])
    if 'betas' in optimizer:
        betas = optimizer['betas']
        if not (isinstance(betas, (list, tuple)) and len(betas) == 2 and all(
                _is_number(b) and 0 <= b < 1 for b in betas)):
            _refuse(f'{key}.betas', betas, 'two numbers in [0, 1)')


def _check_annotated(spec: dict, registry, prefix: str,
                     skip: Tuple[str, ...] = ()) -> None:
    """Values of ``spec`` against the annotations of its class's
    constructors (the class and its bases, which take ``**kwargs``)."""
    cls = registry.get(spec.get('type')) if isinstance(
        spec.get('type'), str) else None
    if not inspect.isclass(cls):
        return  # unknown types are reported where they are built
    for name, value in spec.items():
        if name in ('type', *skip):
            continue
        expected = _annotation(cls, name)
        if expected is None:
            continue
        types, optional = expected
        if value is None and optional:
            continue
        if not _matches(value, types):
            words = ' or '.join(t.__name__ for t in types) + \
                (' or None' if optional else '')
            _refuse(f'{prefix}.{name}', value, f'a value of type {words}')


def _annotation(cls, name: str) -> Optional[Tuple[tuple, bool]]:
    """``(checked types, None allowed)`` of argument ``name`` of the first
    constructor in ``cls``'s MRO that declares it, if checkable."""
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters
            hints = typing.get_type_hints(init)
        except Exception:  # noqa: BLE001 (unresolvable annotations)
            continue
        if name not in params:
            continue
        hint = hints.get(name)
        args = typing.get_args(hint) if typing.get_origin(hint) is \
            typing.Union else (hint, )
        optional = type(None) in args or params[name].default is None
        types = tuple(a for a in args if a is not type(None))
        if types and all(t in CHECKED_TYPES for t in types):
            return types, optional
        return None
    return None


def _matches(value, types: tuple) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, numbers.Integral):
        return int in types or float in types
    if isinstance(value, numbers.Real):
        return float in types
    return False
