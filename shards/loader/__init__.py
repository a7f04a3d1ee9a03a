"""The streaming loader: converted output (local folder, ``https://`` base URL or
``hf://datasets/ORG/REPO``) -> samples for training, exactly once per epoch across nodes x workers.

``source`` resolves where the shards live and fetches whole, sha256-checked shard files;
the rest of the package iterates, shuffles, decodes and mixes them.
"""
