"""Errors of the learning core; input errors are ValueError subclasses."""


class LearningError(ValueError):
    """Base class: an input to the learning core was unusable."""


class WeightFormatError(LearningError):
    """Serialized weights were malformed, unsafe or did not match the expected architecture."""


class AggregationInputError(LearningError):
    """Updates handed to an aggregation rule were empty, non-finite, mismatched or too few."""


class ShardError(LearningError):
    """A data shard could not be derived from the given parameters."""


class TraceError(LearningError):
    """A training trace, checkpoint or Merkle proof was inconsistent."""


class WeightStoreError(RuntimeError):
    """The IPFS weight store failed: daemon down, content missing, too large or not matching its hash."""


class ContentUnavailable(WeightStoreError):
    """The daemon answered but found no provider of the content in time: nobody serves it (yet), unlike a
    daemon that is down or restarting."""
