"""Saved faces (issue 13): members' prepared selfies kept encrypted for reuse.

`store` (`SavedFaces`, the records and their errors) and `keys` (`FaceCipher`: the Fernet key
from ``FACES_KEY`` or ``BOT_DATA_DIR/faces.key``, and `FaceUnreadable`)."""

from bot.core.faces.keys import FaceCipher, FaceUnreadable
from bot.core.faces.store import (
    FACE_PARAM,
    NAME_MAX,
    FaceError,
    FaceLimitReached,
    FaceNameInvalid,
    FaceNameTaken,
    FaceNotFound,
    SavedFace,
    SavedFaces,
    clean_name,
)

__all__ = [
    "FACE_PARAM",
    "NAME_MAX",
    "FaceCipher",
    "FaceError",
    "FaceLimitReached",
    "FaceNameInvalid",
    "FaceNameTaken",
    "FaceNotFound",
    "FaceUnreadable",
    "SavedFace",
    "SavedFaces",
    "clean_name",
]
