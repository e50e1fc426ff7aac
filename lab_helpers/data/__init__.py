"""What the labs learn from: the Olivetti faces (through scikit-learn's loader) and the seeded synthetic people."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "faces": [
            "N_PUBLIC",
            "PUBLIC_SPLIT_SEED",
            "FaceData",
            "FaceDataMissing",
            "candidate_data_homes",
            "fetch_faces_bunch",
            "find_face_data",
            "load_faces",
            "public_private_split",
            "split_per_person",
        ],
        "people": [
            "CREDIT",
            "FRAMINGS",
            "HEALTHCARE",
            "Framing",
            "PeopleData",
            "data_card",
            "hidden_score",
            "load_people",
            "make_people",
            "read_people",
            "split_members",
            "target_shares",
            "write_dataset",
        ],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .faces import (
        N_PUBLIC,
        PUBLIC_SPLIT_SEED,
        FaceData,
        FaceDataMissing,
        candidate_data_homes,
        fetch_faces_bunch,
        find_face_data,
        load_faces,
        public_private_split,
        split_per_person,
    )
    from .people import (
        CREDIT,
        FRAMINGS,
        HEALTHCARE,
        Framing,
        PeopleData,
        data_card,
        hidden_score,
        load_people,
        make_people,
        read_people,
        split_members,
        target_shares,
        write_dataset,
    )
