from .metrics import StreamIoUMetric
from .results import ResultsWriter, atomic_write_text, plot_stream

__all__ = ['StreamIoUMetric', 'ResultsWriter', 'atomic_write_text',
           'plot_stream']
