from .checkpoint import (UnsafeCheckpointError, load_checkpoint_file,
                         load_source_weights)

__all__ = ['UnsafeCheckpointError', 'load_checkpoint_file',
           'load_source_weights']
