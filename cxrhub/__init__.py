"""cxrhub: credentialed chest X-ray downloads -> training-ready Hugging Face datasets.

The code lives in two sub-packages: ``cxrhub.builders`` (per-dataset knowledge) and
``cxrhub.shards`` (dataset-agnostic mechanism).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
