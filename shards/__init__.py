"""cxrhub: credentialed chest X-ray downloads -> training-ready Hugging Face datasets.

``cxrhub.shards`` is the dataset-agnostic mechanism (media, schema, shard writers, executors, index,
cards, CLI); ``cxrhub.builders`` holds per-dataset knowledge. ``cxrhub`` itself is a namespace.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
