"""CSR/CSC matrices written the way ``save_npz`` writes them, in one buffer (``npz``):
the same bytes, and the arrays' checksums taken on the way."""

from __future__ import annotations

import io
import zlib
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sps

from helixvcs.store import decode, npz
from helixvcs.store.codecs import encode_buffer
from helixvcs.store.objectfile import encode_value


def _save_npz(matrix: Any) -> bytes:
    out = io.BytesIO()
    sps.save_npz(out, matrix, compressed=False)
    return out.getvalue()


def _written() -> dict[str, Any]:
    base = sps.random(60, 40, 0.1, "csr", rng=3)
    unsorted = sps.csr_matrix(
        (np.array([1.0, 2.0, 3.0]), np.array([2, 0, 1]), np.array([0, 2, 3])), shape=(2, 3)
    )
    return {
        "csr": base,
        "csc": base.tocsc(),
        "csr-array": sps.csr_array(base),
        "csc-array": sps.csc_array(base),
        "float32": base.astype(np.float32),
        "bool": base.astype(bool),
        "int64-indices": sps.csr_matrix(
            (base.data, base.indices.astype(np.int64), base.indptr.astype(np.int64)),
            shape=base.shape,
        ),
        "empty": sps.csr_matrix((3, 4)),
        "no-rows": sps.csr_matrix((0, 4)),
        "unsorted-indices": unsorted,
    }


WRITTEN = _written()


@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_a_csr_or_csc_matrix_is_save_npz_byte_for_byte(name: str) -> None:
    matrix = WRITTEN[name]
    saved = npz.save(matrix)
    assert saved is not None
    payload, checksums = saved
    assert bytes(payload) == _save_npz(matrix)
    parts = [matrix.data, matrix.indices, matrix.indptr]
    assert sorted(id(a) for a, _ in checksums) == sorted(id(a) for a in parts)
    for array, crc in checksums:
        assert crc == zlib.crc32(array)
    back = decode("sparse", bytearray(payload))
    assert type(back) is type(matrix) and back.shape == matrix.shape
    assert (back != matrix).nnz == 0


def test_the_codec_writes_such_matrices_this_way_and_hands_the_checksums_on() -> None:
    matrix = WRITTEN["csr"]
    checksums: list[tuple[Any, int]] = []
    codec, payload = encode_buffer(matrix, checksums)
    assert codec == "sparse" and bytes(payload) == _save_npz(matrix)
    assert len(checksums) == 3
    assert encode_value(matrix).checksums == tuple(checksums)


def _other() -> dict[str, Any]:
    base = sps.random(30, 20, 0.2, "csr", rng=4)
    strided = sps.csr_matrix((np.repeat(base.data, 2)[::2], base.indices, base.indptr), base.shape)
    return {
        "coo": base.tocoo(),
        "bsr": base.tobsr(),
        "dia": sps.eye(5, format="dia"),
        "strided-data": strided,
    }


@pytest.mark.parametrize("name", sorted(_other()))
def test_other_formats_and_strided_arrays_go_through_save_npz(name: str) -> None:
    matrix = _other()[name]
    assert npz.save(matrix) is None
    checksums: list[tuple[Any, int]] = []
    codec, payload = encode_buffer(matrix, checksums)
    assert codec == "sparse" and bytes(payload) == _save_npz(matrix) and checksums == []
    assert (decode(codec, bytearray(payload)) != matrix).nnz == 0


def test_this_python_s_zipfile_lets_the_member_crc_be_carried() -> None:
    """The archive's member CRCs are taken by ``crc.crc32`` (zlib-ng's) only where the
    member writer is the one ``_write_data`` knows; on the Pythons the project supports it
    is, and the archive is still ``save_npz``'s byte for byte (the tests above)."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(), "w") as archive, archive.open("a.npy", "w") as member:
        assert npz.takes_crc_itself(member)
    with (
        zipfile.ZipFile(io.BytesIO(), "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("a.npy", "w") as member,
    ):
        assert not npz.takes_crc_itself(member)  # compressed: written as zipfile writes
