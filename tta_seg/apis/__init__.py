from .config import compose_model_cfg, prepare_data, resolve_path

__all__ = ['compose_model_cfg', 'prepare_data', 'resolve_path']
