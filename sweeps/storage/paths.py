"""Where a sweep's Tune state lives: a local folder, or a URI every node reaches (s3://bucket/path).

A URI is checked before Ray starts and before any MLflow run exists: wrong or missing credentials, a
missing bucket or an unreachable endpoint fail in one line instead of inside Tune, minutes later.
"""

from __future__ import annotations

import os
import uuid

from ..env import tune_storage_from
from ..errors import ServiceError, SpecError, SweepError

STATE_FILE = "resnet_sweep.json"
# Where the AWS SDK finds credentials besides instance metadata; none of them set means none were given.
CREDENTIAL_SOURCES = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                      "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")


storage_root = tune_storage_from  # the storage path: --storage-path, else $TUNE_STORAGE_PATH, else ./ray_results


def filesystem(path: str):
    """(pyarrow filesystem, path in it) for a local folder or a URI such as s3://bucket/sweeps."""
    import pyarrow.fs

    if "://" in path:
        return pyarrow.fs.FileSystem.from_uri(path)
    return pyarrow.fs.LocalFileSystem(), os.path.abspath(path)


def _endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"


def _credentials_given() -> bool:
    files = [os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
             os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")]
    return any(os.environ.get(k) for k in CREDENTIAL_SOURCES) or \
        any(os.path.exists(os.path.expanduser(f)) for f in files)


def _failure(uri: str, error: Exception) -> ServiceError:
    """One line for a storage error: what failed and what to set."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    if not _credentials_given():
        hint = "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    elif any(s in first for s in ("NETWORK_CONNECTION", "curlCode", "Could not resolve", "Couldn't connect")):
        hint = f"cannot reach {_endpoint()}: check AWS_ENDPOINT_URL"
    elif any(s in first for s in ("ACCESS_DENIED", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden",
                                  "HTTP status 403")):
        hint = f"{_endpoint()} refused these credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    else:
        hint = f"check the URI, AWS_ENDPOINT_URL ({_endpoint()}) and the credentials"
    return ServiceError(f"storage-path: cannot write to {uri} ({first}); {hint}")


def check_storage_path(uri: str, write: bool = True) -> None:
    """The bucket exists, the endpoint answers and the credentials work (a no-op for a local folder); with
    write, a probe object under uri is written and deleted, as every node's trials and the driver will."""
    if "://" not in uri:
        return
    import pyarrow.fs

    try:
        fs, path = pyarrow.fs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as e:  # ArrowInvalid is a ValueError: an unknown scheme or a bad URI
        raise SpecError(f"storage-path: {uri} is not a storage URI pyarrow can open "
                        f"({str(e).splitlines()[0][:200]}); use s3://bucket/path or a local folder") from None
    bucket = path.split("/", 1)[0]
    try:
        if fs.get_file_info(bucket).type == pyarrow.fs.FileType.NotFound:
            raise ServiceError(f"storage-path: bucket {bucket!r} does not exist at {_endpoint()}; create it first")
        if not write:
            return
        probe = f"{path.rstrip('/')}/.resnet-sweep-write-check-{uuid.uuid4().hex}"
        with fs.open_output_stream(probe) as fh:
            fh.write(b"")
        fs.delete_file(probe)
    except OSError as e:
        raise _failure(uri, e) from None


def _holds_state(fs, path: str, uri: str) -> bool:
    import pyarrow.fs

    try:
        return fs.get_file_info(f"{path}/{STATE_FILE}").type == pyarrow.fs.FileType.File
    except OSError as e:
        raise _failure(uri, e) from None


def find_sweep(name_or_path: str, storage_path: str | None) -> str:
    """A sweep folder or URI as given, or the newest sweep of that name under the storage path (local or a
    URI); checked for its state file, so a wrong name or bad credentials fail in one line."""
    import pyarrow.fs

    if "://" in name_or_path or os.path.exists(os.path.join(name_or_path, STATE_FILE)):
        folder = name_or_path.rstrip("/") if "://" in name_or_path else os.path.abspath(name_or_path)
        check_storage_path(folder, write=False)
        fs, path = filesystem(folder)
        if _holds_state(fs, path, folder):
            return folder
        raise SweepError(f"sweep: {name_or_path} holds no {STATE_FILE}; give a sweep's folder or URI")
    root = storage_root(storage_path)
    check_storage_path(root, write=False)
    fs, base = filesystem(root)
    try:
        listed = fs.get_file_info(pyarrow.fs.FileSelector(base, allow_not_found=True))
    except OSError as e:
        raise _failure(root, e) from None
    names = sorted(i.base_name for i in listed if i.type == pyarrow.fs.FileType.Directory
                   and i.base_name.startswith(f"{name_or_path}_"))
    for name in reversed(names):  # the newest with a state file
        if _holds_state(fs, f"{base}/{name}", root):
            return f"{root}/{name}"
    raise SweepError(f"sweep: no sweep folder {name_or_path!r} and no sweep named so under {root}")
