"""Dataset-agnostic mechanism: media, schema, shard writers, executors, index, cards, CLI."""
