"""The attachment file store: S3 (tuned multipart transfers) or a local folder, one interface.

``build_file_store`` picks one from plain values (bot.assembly passes the settings' values). The
interface is ``storage.file_store``; the loop → thread pipe ``storage.file_pipe``; the stores
``storage.s3_files`` and ``storage.local_files``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from storage.file_store import (
    DEFAULT_URL_EXPIRY_S,
    MB,
    AttachmentTooLarge,
    FileStore,
    FileStoreError,
    OnTransfer,
    StoredObject,
    object_key,
    safe_file_name,
)
from storage.local_files import LocalFileStore, sign_file_link
from storage.s3_files import (
    MULTIPART_CHUNKSIZE,
    MULTIPART_THRESHOLD,
    S3FileStore,
    build_s3_client,
    keep_large_buffers_out_of_malloc_heaps,
    s3_transfer_config,
)

#: What callers import from here; each lives in the module named above.
__all__ = [
    "DEFAULT_URL_EXPIRY_S",
    "MB",
    "MULTIPART_CHUNKSIZE",
    "MULTIPART_THRESHOLD",
    "AttachmentTooLarge",
    "FileStore",
    "FileStoreConfig",
    "FileStoreError",
    "LocalFileStore",
    "OnTransfer",
    "S3FileStore",
    "StoredObject",
    "build_file_store",
    "build_s3_client",
    "keep_large_buffers_out_of_malloc_heaps",
    "object_key",
    "s3_transfer_config",
    "safe_file_name",
    "sign_file_link",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileStoreConfig:
    """Where attachments go, as plain values (the app fills it from its settings)."""

    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    #: The local folder, when there is no bucket, and the base URL its signed links start with.
    attachments_dir: str = "attachments"
    base_url: str = "http://127.0.0.1:3000"
    #: Signs the local folder's links (the app uses its Slack signing secret); None: a random one.
    link_secret: str | None = None


def build_file_store(config: FileStoreConfig, *, on_transfer: OnTransfer | None = None) -> FileStore:
    """S3 when a bucket is given; otherwise a local folder."""
    if config.s3_bucket:
        keep_large_buffers_out_of_malloc_heaps()
        client = build_s3_client(region=config.s3_region, endpoint_url=config.s3_endpoint_url)
        return S3FileStore(client, config.s3_bucket, on_transfer=on_transfer)
    return LocalFileStore(
        config.attachments_dir, base_url=config.base_url, secret=config.link_secret, on_transfer=on_transfer
    )
