"""Converted outputs in a (private) Hugging Face Hub dataset repo, fetched like any HTTP source.

``hf://datasets/ORG/REPO[@REVISION][/SUBFOLDER]`` -> file URLs from ``huggingface_hub.hf_hub_url``,
downloaded by :class:`~cxrhub.shards.loader.remote.HttpSource`'s machinery (bearer token, retries,
the shared sha256-keyed cache). Nothing here calls a Hub API, so ``HF_HUB_OFFLINE`` does not stop
an explicit remote location.
"""

from __future__ import annotations

from urllib.parse import unquote

from cxrhub.shards.errors import CxrhubError
from cxrhub.shards.loader.remote import HttpSource

__all__ = ["HubLocationError", "HubSource", "parse_hub_location"]


class HubLocationError(CxrhubError, ValueError):
    """An ``hf://`` location that is not ``hf://datasets/ORG/REPO[@REVISION][/SUBFOLDER]``."""


class HubSource(HttpSource):
    """A converted output in a Hugging Face Hub dataset repo:
    ``hf://datasets/ORG/REPO[@REVISION][/SUBFOLDER]`` (a revision with ``/`` in it, such as
    ``refs/pr/1``, is written URL-encoded: ``@refs%2Fpr%2F1``).

    Args:
        location: the ``hf://`` location; REVISION defaults to ``main``.
        token: a Hub token; by default ``huggingface_hub.get_token()`` (``HF_TOKEN``, then the
            saved login); ``False`` sends none.
        endpoint: the Hub URL (default ``HF_ENDPOINT`` or ``https://huggingface.co``).
        options: as for :class:`HttpSource` (cache, retries, ...).
    """

    _auth_hint = "set HF_TOKEN, run `hf auth login`, or pass token=... to open_source()"

    def __init__(
        self,
        location: str,
        *,
        token: str | bool | None = None,
        endpoint: str | None = None,
        **options,
    ):
        from huggingface_hub import constants, get_token

        self.repo_id, self.revision, self.subfolder = parse_hub_location(location)
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        if token is None or token is True:
            token = get_token()
        super().__init__(self.endpoint, token=token or None, **options)
        self.location = location

    def url(self, file: str) -> str:
        from huggingface_hub import hf_hub_url

        return hf_hub_url(
            self.repo_id,
            file,
            subfolder=self.subfolder or None,
            repo_type="dataset",
            revision=self.revision,
            endpoint=self.endpoint,
        )


def parse_hub_location(location: str) -> tuple[str, str, str]:
    """``hf://datasets/ORG/REPO[@REVISION][/SUBFOLDER]`` -> ``(repo_id, revision, subfolder)``."""
    prefix = "hf://datasets/"
    parts = location[len(prefix) :].strip("/").split("/")
    repo, _, revision = parts[1].partition("@") if len(parts) > 1 else ("", "", "")
    if not location.startswith(prefix) or not parts[0] or not repo:
        raise HubLocationError(
            f"{location!r}: expected hf://datasets/ORG/REPO[@REVISION][/SUBFOLDER]"
        )
    return f"{parts[0]}/{repo}", unquote(revision) or "main", "/".join(parts[2:])
