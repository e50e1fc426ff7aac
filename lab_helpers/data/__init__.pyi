"""What `lab_helpers.data` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .face_photos import (
    FaceData as FaceData,
    FaceDataMissing as FaceDataMissing,
    candidate_data_homes as candidate_data_homes,
    fetch_faces_bunch as fetch_faces_bunch,
    find_face_data as find_face_data,
    load_faces as load_faces,
    public_private_split as public_private_split,
    split_per_person as split_per_person,
)
from .synthetic_people import (
    CREDIT as CREDIT,
    HIRING as HIRING,
    FRAMINGS as FRAMINGS,
    HEALTHCARE as HEALTHCARE,
    PeopleData as PeopleData,
    data_card as data_card,
    hidden_score as hidden_score,
    load_people as load_people,
    make_people as make_people,
    read_people as read_people,
    split_members as split_members,
    target_shares as target_shares,
    write_dataset as write_dataset,
)
