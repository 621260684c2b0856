"""The Optuna study storage of a sweep, kept out of every file Tune writes: its URL may hold a password."""

from __future__ import annotations

import optuna

from ..env import OPTUNA_STORAGE_ENV, has_credentials, redact
from ..errors import ServiceError, SpecError

# Full URLs this driver was given (flag or environment), by their masked form: how a storage unpickled
# from Tune's folder (on resume) finds its password again without the password ever being written there.
_GIVEN: dict[str, str] = {}


class MaskedRDBStorage(optuna.storages.RDBStorage):
    """RDBStorage that pickles with its password masked: Tune saves the searcher, and the Tuner with it,
    into the sweep's folder. Unpickled, it takes the full URL from what this driver was given again."""

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "url": redact(self.url)}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__({**state, "url": resume_storage(state["url"], _GIVEN.get(state["url"]))})


def open_storage(url: str) -> MaskedRDBStorage:
    """The study storage at url (tables created if new), remembered for unpickling on resume."""
    _GIVEN[redact(url)] = url
    return MaskedRDBStorage(url)


def check_storage(url: str) -> None:
    """Fail fast, in one line and before Ray starts, when the storage cannot be opened."""
    try:
        open_storage(url).engine.dispose()
    except Exception as e:  # a bad URL, a missing driver, a database that is down or refuses us
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        # SQLAlchemy and psycopg2 messages name the user and host, not the password; mask it anyway.
        raise ServiceError(f"optuna-storage: cannot open {redact(url)} ({first.replace(url, redact(url))})") from None


def resume_storage(saved: str | None, given: str | None) -> str | None:
    """The storage a resumed sweep uses: the one it ran with (saved, masked), its password given again."""
    if saved is None:
        return None  # an in-memory study: Tune's saved searcher holds all of it
    if given is None:
        if has_credentials(saved):
            raise SpecError(f"optuna-storage: this sweep's study is in {saved}; pass its full URL with "
                            f"--optuna-storage or {OPTUNA_STORAGE_ENV}")
        return saved
    if redact(given) != saved:  # another database would silently start the search over
        raise SpecError(f"optuna-storage: this sweep's study is in {saved}, not {redact(given)}")
    return given
