"""What the labs learn from: the Olivetti faces (through scikit-learn's loader) and the seeded synthetic people."""

from .faces import (
    FaceData,
    FaceDataMissing,
    candidate_data_homes,
    fetch_faces_bunch,
    find_face_data,
    load_faces,
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

__all__ = [
    "CREDIT",
    "FRAMINGS",
    "FaceData",
    "FaceDataMissing",
    "Framing",
    "HEALTHCARE",
    "PeopleData",
    "candidate_data_homes",
    "data_card",
    "fetch_faces_bunch",
    "find_face_data",
    "hidden_score",
    "load_faces",
    "load_people",
    "make_people",
    "read_people",
    "split_members",
    "split_per_person",
    "target_shares",
    "write_dataset",
]
