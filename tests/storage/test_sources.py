"""Reading provider files with the read options of ``sources.yaml``, and the options' schema.

Options are given as a user writes them, in YAML, and go through ``SourceSpec`` as a run passes
them (``spec.read.model_dump(exclude_none=True)``).
"""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from catalog_assets.catalog.schema import ReadOptions, SourceSpec
from catalog_assets.errors import CatalogAssetsError, StorageError
from catalog_assets.settings import Deployment
from catalog_assets.storage.sources import SourceReadError, read_source_file
from catalog_assets.storage.store import CatalogStore

VISITS = (
    "Export Lumière, 2024-03-01\n"
    "member;cinema;spend;visited\n"
    "1;Gaumont Opéra;12,50;2024-01-05\n"
    "2;Pathé Bercy;9,00;2024-01-06\n"
    "3;Cinéma Élysée;7,25;2024-02-29\n"
)
VISITS_READ = '{sep: ";", encoding: latin-1, skip_rows: 1, decimal: ",", dates: [visited]}'


def spec(fmt: str, read: str | None = None, name: str = "visit_log") -> SourceSpec:
    """A source as declared in sources.yaml, with ``read`` written in YAML."""
    text = f"name: {name}\ndescription: d\nprovider: p\nlocation: p/f\nformat: {fmt}\n"
    if read is not None:
        text += f"read: {read}\n"
    return SourceSpec.model_validate(yaml.safe_load(text))


def read(path: Path, source: SourceSpec) -> pd.DataFrame:
    options = source.read.model_dump(exclude_none=True) if source.read else {}
    return read_source_file(
        path, source.format, options, name=source.name, uri=f"s3://bucket/sources/{path.name}"
    )


def test_a_semicolon_latin1_csv_with_preamble_decimal_commas_and_dates(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_bytes(VISITS.encode("latin-1"))
    frame = read(path, spec("csv", VISITS_READ))
    assert list(frame.columns) == ["member", "cinema", "spend", "visited"]
    assert frame["member"].tolist() == [1, 2, 3]
    assert frame["cinema"].tolist() == ["Gaumont Opéra", "Pathé Bercy", "Cinéma Élysée"]
    assert pd.api.types.is_float_dtype(frame["spend"])
    assert frame["spend"].tolist() == [12.5, 9.0, 7.25]
    assert pd.api.types.is_datetime64_any_dtype(frame["visited"])
    assert frame["visited"].tolist() == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-01-06"),
        pd.Timestamp("2024-02-29"),
    ]


def test_a_headerless_csv_takes_the_names_given(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("1,alpha,2.5\n2,beta,3.5\n")
    frame = read(path, spec("csv", "{header: none, names: [id, label, score]}"))
    assert list(frame.columns) == ["id", "label", "score"]
    assert frame.to_dict("list") == {"id": [1, 2], "label": ["alpha", "beta"], "score": [2.5, 3.5]}


def test_a_headerless_csv_without_names_gets_numbered_columns(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("1,alpha,2.5\n2,beta,3.5\n")
    frame = read(path, spec("csv", "{header: none}"))
    assert list(frame.columns) == ["column_1", "column_2", "column_3"]
    assert len(frame) == 2  # the first row is data, not a header
    assert frame["column_2"].tolist() == ["alpha", "beta"]


def test_a_space_separated_file_with_sep_whitespace(tmp_path):
    path = tmp_path / "scores.txt"
    path.write_text("id  name     score\n1   alpha  2.5\n2 beta        3.5\n")
    frame = read(path, spec("csv", "{sep: whitespace}"))
    assert frame.to_dict("list") == {"id": [1, 2], "name": ["alpha", "beta"], "score": [2.5, 3.5]}


@pytest.mark.parametrize(
    "written",
    [r"{sep: '\t'}", r'{sep: "\t"}'],
    ids=["backslash-t", "a real tab"],
)
def test_a_tab_separator_written_in_yaml(tmp_path, written):
    path = tmp_path / "scores.tsv"
    path.write_text("id\tname\n1\talpha beta\n2\tgamma\n")
    frame = read(path, spec("csv", written))
    assert frame.to_dict("list") == {"id": [1, 2], "name": ["alpha beta", "gamma"]}


def test_a_json_lines_file(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"id": 1, "kind": "visit", "when": "2024-01-05"}\n'
        '{"id": 2, "kind": "refund", "when": "2024-01-06"}\n'
    )
    frame = read(path, spec("jsonl", "{dates: [when]}"))
    assert frame["id"].tolist() == [1, 2]
    assert frame["kind"].tolist() == ["visit", "refund"]
    assert pd.api.types.is_datetime64_any_dtype(frame["when"])


def test_dtypes_set_column_types(tmp_path):
    path = tmp_path / "members.csv"
    path.write_text("member_id,postcode,score\n7,01230,3\n8,75001,4\n")
    frame = read(path, spec("csv", "{dtypes: {postcode: str, score: float64}}"))
    assert frame["postcode"].tolist() == ["01230", "75001"]  # leading zero kept
    assert frame["score"].dtype == "float64"
    assert frame["member_id"].tolist() == [7, 8]


def test_thousands_separators(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_text("cinema;revenue\nA;1.234.567,50\nB;12,25\n")
    frame = read(path, spec("csv", '{sep: ";", thousands: ".", decimal: ","}'))
    assert frame["revenue"].tolist() == [1234567.5, 12.25]


def test_a_latin1_file_read_as_utf8_says_to_set_the_encoding(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_bytes(VISITS.encode("latin-1"))
    with pytest.raises(SourceReadError) as raised:
        read(path, spec("csv", '{sep: ";", skip_rows: 1}'))
    message = str(raised.value)
    assert isinstance(raised.value, CatalogAssetsError)
    assert message.startswith(
        f"source 'visit_log' (s3://bucket/sources/{path.name}) is not utf-8 text"
    )
    assert "set read: {encoding: latin-1}" in message


def test_a_semicolon_file_read_without_sep_says_which_separator_to_set(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text("member;cinema;spend\n1;A;3\n2;B;4\n")
    with pytest.raises(SourceReadError) as raised:
        read(path, spec("csv"))
    message = str(raised.value)
    assert message.startswith(
        f"source 'visit_log' (s3://bucket/sources/{path.name}) read as a single column"
    )
    assert "it looks separated by ';'; set read: {sep: ';'}" in message


def test_a_genuine_one_column_csv_with_spaces_in_its_header_is_read(tmp_path):
    path = tmp_path / "titles.csv"
    path.write_text("film title\nAmélie\nThe Lord of the Rings\nUp\n")
    frame = read(path, spec("csv"))
    assert frame["film title"].tolist() == ["Amélie", "The Lord of the Rings", "Up"]


def test_a_one_column_csv_whose_first_value_has_as_many_words_as_its_header_is_read(tmp_path):
    path = tmp_path / "titles.csv"
    path.write_text("film title\nThe Matrix\nAmélie\nThe Lord of the Rings\n")
    frame = read(path, spec("csv"))
    assert frame["film title"].tolist() == ["The Matrix", "Amélie", "The Lord of the Rings"]


def test_a_ragged_file_suggests_sep_or_skip_rows(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text("member,cinema,spend\n1,A,3\n2,B,4,5,6\n")
    with pytest.raises(SourceReadError) as raised:
        read(path, spec("csv"))
    message = str(raised.value)
    assert message.startswith(
        f"source 'visit_log' (s3://bucket/sources/{path.name}) cannot be read as csv: "
    )
    assert "set read: {sep: ...} to the file's separator, or skip_rows" in message


def test_a_preamble_row_read_without_skip_rows_is_refused(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text("Export of 2024-03-01\nmember,cinema,spend\n1,A,3\n2,B,4\n")
    assert read(path, spec("csv", "{skip_rows: 1}"))["spend"].tolist() == [3, 4]
    with pytest.raises(SourceReadError, match="skip_rows"):
        read(path, spec("csv"))


def test_a_ragged_file_error_is_one_line(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text("member,cinema,spend\n1,A,3\n2,B,4,5,6\n")
    with pytest.raises(SourceReadError) as raised:
        read(path, spec("csv"))
    assert "\n" not in str(raised.value)


def test_format_file_says_to_use_catalog_path(tmp_path):
    path = tmp_path / "poster.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(SourceReadError) as raised:
        read(path, spec("file", name="posters"))
    assert "catalog.path('posters')" in str(raised.value)
    assert str(raised.value).startswith(
        f"source 'posters' (s3://bucket/sources/{path.name}) has format: file"
    )


@pytest.mark.parametrize(
    ("fmt", "read_yaml", "misplaced"),
    [
        ("csv", "{sheet: Sheet1, sep: ';'}", "sheet"),
        ("parquet", "{sep: ';'}", "sep"),
        ("jsonl", "{decimal: ',', thousands: '.'}", "decimal, thousands"),
        ("excel", "{encoding: latin-1}", "encoding"),
        ("file", "{header: none}", "header"),
    ],
)
def test_options_that_do_not_fit_the_format_are_refused_by_name(fmt, read_yaml, misplaced):
    with pytest.raises(ValidationError) as raised:
        spec(fmt, read_yaml)
    assert f"read: {misplaced} do not apply to format {fmt}" in str(raised.value)


def test_options_that_fit_the_format_are_accepted():
    assert spec("excel", "{sheet: Visits, skip_rows: 2}").read.sheet == "Visits"
    assert spec("jsonl", "{encoding: latin-1, dates: [when]}").read.dates == ["when"]


def test_an_unknown_encoding_is_refused():
    with pytest.raises(ValidationError) as raised:
        ReadOptions.model_validate({"encoding": "latin-42"})
    assert "unknown encoding 'latin-42'" in str(raised.value)
    with pytest.raises(ValidationError):
        spec("csv", "{encoding: utf-99}")


def test_the_store_reads_a_source_with_its_options_pinned_to_the_version(tmp_path):
    store = CatalogStore.open(Deployment("local", str(tmp_path / "storage")))
    key = store.source_key("lumiere/visits.csv")
    path = tmp_path / "storage" / key
    path.parent.mkdir(parents=True)
    path.write_bytes(VISITS.encode("latin-1"))
    version = store.source_info("lumiere/visits.csv").version
    options = spec("csv", VISITS_READ).read.model_dump(exclude_none=True)

    frame = store.read_source(key, version, "csv", options, name="visit_log")
    assert frame["spend"].tolist() == [12.5, 9.0, 7.25]

    path.write_bytes(VISITS.replace("7,25", "17,25").encode("latin-1"))  # a new delivery
    with pytest.raises(StorageError, match="changed since its version was recorded"):
        store.read_source(key, version, "csv", options, name="visit_log")
    new_version = store.source_info("lumiere/visits.csv").version
    assert new_version != version
    frame = store.read_source(key, new_version, "csv", options, name="visit_log")
    assert frame["spend"].tolist() == [12.5, 9.0, 17.25]
