"""Storage formats: what a notebook hands back is what a downstream notebook loads, or it is
refused with the reason and the fix; model and pickle files load only what their entry trusts."""

import io
import json
import os
import pickle
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from catalog_assets.errors import StorageError
from catalog_assets.storage import formats
from catalog_assets.storage.formats import LoadPolicy, ProductRefused, UntrustedModelError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
X = np.arange(40, dtype=float).reshape(20, 2)
Y = np.arange(20) % 2


class Doubler(TransformerMixin, BaseEstimator):
    """A transformer of the test module: importable here, but not a trusted library's class."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X) * 2


DOUBLER = f"{Doubler.__module__}.{Doubler.__qualname__}"


class Opaque:
    """A value no automatic format takes."""

    def __init__(self, payload):
        self.payload = payload

    def __eq__(self, other):
        return isinstance(other, Opaque) and other.payload == self.payload

    __hash__ = None


DEFAULT_POLICY = LoadPolicy()


def round_trip(value, tmp_path: Path, policy: LoadPolicy = DEFAULT_POLICY, declared=None):
    """Store ``value`` as ``catalog.output`` does, then load it as a downstream notebook does."""
    fmt = formats.choose(value, declared)
    path = tmp_path / f"product.{fmt.extension}"
    formats.write(value, fmt, path, policy)
    return fmt, fmt.load(path, policy)


@pytest.fixture
def figure_class():
    """matplotlib's Figure on the Agg backend; matplotlib is optional for the package."""
    try:
        import matplotlib
    except ImportError:
        reason = "matplotlib is not installed; add it to the dev extras to test the png format"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure


# Round trips.


def test_dataframe_of_many_dtypes_round_trips(tmp_path):
    frame = pd.DataFrame(
        {
            "count": np.array([1, 2, 3], dtype="int32"),
            "big": np.array([2**40, -1, 0], dtype="int64"),
            "small": np.array([0, 1, 255], dtype="uint8"),
            "ratio": [1.5, np.nan, -0.25],
            "ratio32": np.array([1.5, 2.5, 3.5], dtype="float32"),
            "name": ["ada", None, "grace"],
            "seen": pd.to_datetime(["2024-01-01 10:00", None, "2024-06-30 23:59"]).tz_localize(
                "Europe/Paris"
            ),
            "naive": pd.date_range("2024-01-01", periods=3, freq="D"),
            "waited": pd.to_timedelta([1, 2, 3], unit="s"),
            "genre": pd.Categorical(["jazz", "rock", "jazz"]),
            "ordered": pd.Categorical(
                ["low", "high", "low"], categories=["low", "high"], ordered=True
            ),
            "visits": pd.array([1, None, 3], dtype="Int64"),
            "active": [True, False, True],
            "maybe": pd.array([True, None, False], dtype="boolean"),
        },
        index=pd.Index([10, 20, 30], name="member_id"),
    )

    fmt, loaded = round_trip(frame, tmp_path)

    assert fmt.name == "parquet"
    pd.testing.assert_frame_equal(loaded, frame)


def test_dataframe_with_a_multiindex_round_trips(tmp_path):
    frame = pd.DataFrame(
        {"score": [0.1, 0.2]},
        index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["member", "genre"]),
    )
    pd.testing.assert_frame_equal(round_trip(frame, tmp_path)[1], frame)


@pytest.mark.parametrize("name", ["score", None])
@pytest.mark.parametrize(
    "index",
    [pd.RangeIndex(3), pd.Index(["a", "b", "c"], name="member"), pd.Index([5, 6, 7])],
    ids=["range", "named", "unnamed"],
)
def test_series_round_trips_as_a_series_with_its_name_and_index(tmp_path, name, index):
    series = pd.Series([0.5, np.nan, 2.0], index=index, name=name)

    fmt, loaded = round_trip(series, tmp_path)

    assert fmt.name == "parquet"
    assert isinstance(loaded, pd.Series)
    assert loaded.name == name
    pd.testing.assert_index_equal(loaded.index, series.index)
    pd.testing.assert_series_equal(loaded, series)


def test_series_of_strings_and_categories_round_trips(tmp_path):
    for number, series in enumerate(
        [
            pd.Series(["a", None, "c"], name="label"),
            pd.Series(pd.Categorical(["x", "y", "x"]), name="kind"),
        ]
    ):
        folder = tmp_path / str(number)
        folder.mkdir()
        pd.testing.assert_series_equal(round_trip(series, folder)[1], series)


@pytest.mark.parametrize(
    ("make_model", "features"),
    [
        (lambda: make_pipeline(StandardScaler(), LogisticRegression()), X),
        # Holds a KDTree, which skops itself does not trust by default: a scikit-learn class.
        (lambda: KNeighborsClassifier(n_neighbors=3), X),
        # Fitted on sparse input, it holds a SciPy sparse matrix.
        (lambda: SVC(), scipy.sparse.csr_matrix(X)),
    ],
    ids=["pipeline", "kneighbors", "svc-sparse"],
)
def test_fitted_estimator_round_trips_with_equal_predictions(tmp_path, make_model, features):
    model = make_model().fit(features, Y)

    fmt, loaded = round_trip(model, tmp_path)

    assert fmt.name == "skops"
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


FIT_AND_DUMP = """
import sys
from pathlib import Path
import numpy as np, scipy.sparse
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from catalog_assets.storage import formats
X = np.arange(40, dtype=float).reshape(20, 2)
Y = np.arange(20) % 2
for name, model, features in [
    ("pipeline", make_pipeline(StandardScaler(), LogisticRegression()), X),
    ("forest", RandomForestClassifier(n_estimators=4, random_state=0), X),
    ("kneighbors", KNeighborsClassifier(n_neighbors=3), X),
    ("svc-sparse", SVC(), scipy.sparse.csr_matrix(X)),
]:
    formats.FORMATS["skops"].dump(model.fit(features, Y), Path(sys.argv[1]) / f"{name}.skops")
"""


def test_the_same_model_fitted_in_two_processes_gives_the_same_bytes(tmp_path):
    # A data version is the hash of the bytes: a recompute that changed nothing must not look
    # like a new version to everything downstream. Separate processes, other hash seeds, seconds
    # apart: skops alone names arrays after id() and stamps the time into the zip.
    runs = []
    for seed in ("1", "2"):
        folder = tmp_path / seed
        folder.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", FIT_AND_DUMP, str(folder)], check=True, env=env)
        runs.append({p.name: p.read_bytes() for p in folder.iterdir()})
        time.sleep(2.1)  # zip times have a resolution of two seconds
    assert runs[0].keys() == {
        "pipeline.skops",
        "forest.skops",
        "kneighbors.skops",
        "svc-sparse.skops",
    }
    assert runs[0] == runs[1]
    assert all(zipfile.ZipFile(io.BytesIO(data)).testzip() is None for data in runs[0].values())


def test_an_array_a_model_holds_twice_loads_back_as_one_array(tmp_path):
    model = LogisticRegression().fit(X, Y)
    model.reference_ = model.coef_  # one array under two attributes

    _, loaded = round_trip(model, tmp_path)

    assert loaded.reference_ is loaded.coef_
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


@pytest.mark.parametrize(
    "value",
    [
        {"threshold": 0.5, "genres": ["jazz", "rock"], "nested": {"ok": True, "none": None}},
        [1, 2.5, "three", None, False, [], {}],
        {"unicode": "ünïcødé ✓", "big": 2**70, "negative": -1e-300},
        {},
        [],
    ],
    ids=["nested-dict", "list", "unicode-and-big", "empty-dict", "empty-list"],
)
def test_json_values_round_trip(tmp_path, value):
    fmt, loaded = round_trip(value, tmp_path)
    assert fmt.name == "json"
    assert loaded == value
    assert type(loaded) is type(value)


@pytest.mark.parametrize(
    "array",
    [
        np.array([-128, 0, 127], dtype="int8"),
        np.array([0, 2**64 - 1], dtype="uint64"),
        np.array([[1.5, np.inf], [-np.inf, 0.0]], dtype="float32"),
        np.array([1 + 2j, -3j], dtype="complex128"),
        np.array([True, False]),
        np.array(["ada", "grace"], dtype="<U5"),
        np.array(["2024-01-01", "2024-06-30"], dtype="datetime64[ns]"),
        np.array([(1, 2.5), (3, -1.0)], dtype=[("id", "i4"), ("score", "f8")]),
        np.asfortranarray(np.arange(6, dtype="int16").reshape(2, 3)),
        np.array(3.25),
        np.empty((0, 4), dtype="float64"),
    ],
    ids=lambda array: f"{array.dtype}-{array.shape}",
)
def test_numpy_arrays_round_trip(tmp_path, array):
    fmt, loaded = round_trip(array, tmp_path)

    assert fmt.name == "npy"
    assert type(loaded) is np.ndarray
    assert loaded.dtype == array.dtype
    assert loaded.shape == array.shape
    assert loaded.flags.f_contiguous == array.flags.f_contiguous
    np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize("shown", ["figure", "axes"])
def test_matplotlib_figure_and_axes_load_back_as_png_images(tmp_path, figure_class, shown):
    from IPython.display import Image

    figure = figure_class(figsize=(3, 2))
    axes = figure.add_subplot()
    axes.plot([1, 2, 3], [3, 1, 2])
    value = figure if shown == "figure" else axes

    fmt, loaded = round_trip(value, tmp_path)

    assert fmt.name == "png"
    assert isinstance(loaded, Image)
    assert loaded.data.startswith(PNG_SIGNATURE)
    assert fmt.describe(value)["inches"] == [3.0, 2.0]


def test_pickle_round_trips_when_the_entry_declares_it(tmp_path):
    value = Opaque({"weights": [1, 2, 3]})

    fmt, loaded = round_trip(value, tmp_path, LoadPolicy(allow_pickle=True), declared="pickle")

    assert fmt.name == "pickle"
    assert loaded == value


# Which format.


@pytest.mark.parametrize(
    ("make_value", "expected"),
    [
        (lambda: pd.DataFrame({"a": [1]}), "parquet"),
        (lambda: pd.Series([1], name="a"), "parquet"),
        (lambda: LogisticRegression(), "skops"),
        (lambda: make_pipeline(StandardScaler()), "skops"),
        (lambda: {"a": 1}, "json"),
        (lambda: [1, 2], "json"),
        (lambda: np.zeros(3), "npy"),
    ],
    ids=["dataframe", "series", "estimator", "pipeline", "dict", "list", "ndarray"],
)
def test_format_is_chosen_by_type(make_value, expected):
    assert formats.choose(make_value()).name == expected
    assert formats.choose(make_value(), "auto").name == expected


def test_series_and_dataframe_use_their_own_parquet_classes():
    assert isinstance(formats.choose(pd.Series([1.0])), formats.ParquetSeries)
    assert type(formats.choose(pd.DataFrame({"a": [1]}))) is formats.ParquetFrame


def test_figure_and_axes_are_stored_as_png(figure_class):
    figure = figure_class()
    assert formats.choose(figure).name == "png"
    assert formats.choose(figure.add_subplot()).name == "png"


def test_declared_pickle_takes_any_value():
    assert formats.choose(Opaque(1), "pickle").name == "pickle"
    assert formats.choose(pd.DataFrame({"a": [1]}), "pickle").name == "pickle"


@pytest.mark.parametrize("value", [Opaque(1), (1, 2), {1, 2}, "text", 3, None])
def test_undeclared_value_of_no_supported_type_is_refused_with_the_way_out(value):
    with pytest.raises(ProductRefused) as caught:
        formats.choose(value)
    message = str(caught.value)
    assert f"cannot store a {type(value).__module__}.{type(value).__qualname__}" in message
    for fmt in formats.AUTOMATIC:
        assert fmt.stores in message
    assert "declare format: pickle" in message


@pytest.mark.parametrize(
    ("value", "declared", "stores"),
    [
        (pd.DataFrame({"a": [1]}), "npy", "NumPy array (npy)"),
        (np.zeros(2), "json", "dict or list of JSON scalars (json)"),
        ({"a": 1}, "parquet", "pandas DataFrame (parquet)"),
        ({"a": 1}, "skops", "scikit-learn estimator (skops)"),
        ({"a": 1}, "png", "matplotlib figure"),
    ],
)
def test_declared_format_that_does_not_take_the_value_is_refused(value, declared, stores):
    with pytest.raises(ProductRefused) as caught:
        formats.choose(value, declared)
    message = str(caught.value)
    assert f"declares format: {declared}" in message
    assert stores in message
    assert type(value).__qualname__ in message


def test_unknown_declared_format_is_named():
    with pytest.raises(StorageError, match="unknown storage format 'csv'"):
        formats.choose({"a": 1}, "csv")


# Refusals: values that would not come back as they are.


@pytest.mark.parametrize(
    ("make_frame", "fragments"),
    [
        (
            lambda: pd.DataFrame({True: [1], False: [2]}),
            ["column labels must be strings", "True (bool)", "df.columns.astype(str)"],
        ),
        (
            lambda: pd.DataFrame({0: [1], 1: [2]}),
            ["column labels must be strings", "0 (int)", "rename them"],
        ),
        (
            lambda: pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"]),
            ["column labels must be unique", "repeated: a"],
        ),
        (
            lambda: pd.DataFrame({"a": [1]}, index=pd.Index([7], name=0)),
            ["index names must be strings", "0 (int)"],
        ),
        (
            lambda: pd.DataFrame({"a": pd.Series([1, "two", 3.0], dtype=object)}),
            ["column 'a'", "Python objects", "'mixed-integer'", ".astype(str)", "format: pickle"],
        ),
        (
            lambda: pd.DataFrame({"n": pd.Series([1, 2, 3], dtype=object)}),
            ["column 'n'", "'integer'", ".astype('int64')", "format: pickle"],
        ),
        (
            lambda: pd.DataFrame({"l": [[1, 2], [3]]}),
            ["column 'l'", "Python objects", "format: pickle"],
        ),
    ],
    ids=[
        "bool-labels",
        "int-labels",
        "duplicate-labels",
        "int-index-name",
        "mixed-objects",
        "object-ints",
        "lists",
    ],
)
def test_dataframes_that_parquet_would_change_are_refused(make_frame, fragments):
    with pytest.raises(ProductRefused) as caught:
        formats.choose(make_frame())
    message = str(caught.value)
    assert message.startswith("cannot store this pandas DataFrame (parquet) faithfully: ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("name", [0, ("a", "b"), 1.5])
def test_series_with_a_non_string_name_is_refused(name):
    with pytest.raises(ProductRefused) as caught:
        formats.choose(pd.Series([1, 2], name=name))
    message = str(caught.value)
    assert "Series name must be a string or None" in message
    assert repr(name) in message


def test_object_numpy_array_is_refused():
    with pytest.raises(ProductRefused) as caught:
        formats.choose(np.array([1, "a", None], dtype=object))
    message = str(caught.value)
    assert "NumPy array (npy)" in message
    assert "Python objects" in message
    assert "pickle" in message


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ({"pair": (1, 2)}, ["value['pair'] is a tuple", "tuples with list()"]),
        ({"n": np.int64(3)}, ["value['n'] is a int64", "NumPy scalars with .item()"]),
        ([True, np.bool_(True)], ["value[1] is a bool", ".item()"]),
        ({1: "a"}, ["has the key 1", "JSON keys are strings"]),
        ({"a": {2: "b"}}, ["value['a'] has the key 2", "JSON keys are strings"]),
        ([1.0, float("nan")], ["value[1] is nan", "JSON cannot hold"]),
        ({"x": [float("inf")]}, ["value['x'][0] is inf", "JSON cannot hold"]),
        ({"when": pd.Timestamp("2024-01-01")}, ["value['when'] is a Timestamp"]),
    ],
    ids=["tuple", "numpy-int", "numpy-bool", "int-key", "nested-int-key", "nan", "inf", "ts"],
)
def test_json_values_that_json_would_change_are_refused(value, fragments):
    with pytest.raises(ProductRefused) as caught:
        formats.choose(value)
    message = str(caught.value)
    assert message.startswith("cannot store this dict or list of JSON scalars (json) faithfully")
    for fragment in fragments:
        assert fragment in message


# Model files: only trusted classes load.


def test_model_with_a_class_outside_the_trusted_libraries_is_refused_when_written(tmp_path):
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, Y)
    fmt = formats.choose(model)

    with pytest.raises(ProductRefused) as caught:
        formats.write(model, fmt, tmp_path / "model.skops", LoadPolicy())

    message = str(caught.value)
    assert DOUBLER in message
    assert "move it into an importable module of the repository" in message
    assert "list it under trusted_types" in message


def test_model_with_a_declared_trusted_class_round_trips(tmp_path):
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, Y)

    fmt, loaded = round_trip(model, tmp_path, LoadPolicy(trusted_types=(DOUBLER,)))

    assert isinstance(loaded.steps[0][1], Doubler)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_model_file_written_with_a_trusted_class_is_refused_where_it_is_not_declared(tmp_path):
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, Y)
    path = tmp_path / "model.skops"
    formats.write(model, formats.FORMATS["skops"], path, LoadPolicy(trusted_types=(DOUBLER,)))

    with pytest.raises(UntrustedModelError, match=DOUBLER):
        formats.FORMATS["skops"].load(path, LoadPolicy())


def test_unreadable_model_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"not a zip")
    with pytest.raises(UntrustedModelError, match="not a readable skops file"):
        formats.FORMATS["skops"].load(path, LoadPolicy())


def json_node(value) -> dict:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def tuple_node(*items: dict) -> dict:
    return {
        "__class__": "tuple",
        "__module__": "builtins",
        "__loader__": "TupleNode",
        "content": list(items),
    }


def crafted_model(path: Path, func_node: dict) -> Path:
    """A skops file of a FunctionTransformer whose ``func`` node is replaced by ``func_node``."""
    raw = skops.io.dumps(FunctionTransformer(func=np.log1p))
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    func = schema["content"]["content"]["func"]
    # The shape the crafting relies on; if skops changes it, this test must be rewritten.
    assert (func["__loader__"], func["__module__"], func["__class__"]) == (
        "FunctionNode",
        "numpy",
        "log1p",
    )
    schema["content"]["content"]["func"] = func_node
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def call_node(module: str, function: str, *args) -> dict:
    """A node that skops loads by calling ``module.function(*args)``."""
    return {
        "__class__": function,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": tuple_node(*(json_node(arg) for arg in args)),
    }


def payload_call(marker: Path, function: str) -> dict:
    """Code that creates ``marker`` when the file is loaded, through ``function``."""
    creates = f"open({str(marker)!r}, 'w').close()"
    if function == "os.system":
        return call_node("os", "system", f'{sys.executable} -c "{creates}"')
    return call_node("builtins", function.split(".")[1], creates)


def refusals_of(path: Path) -> list[str]:
    """What the skops format says about ``path``, through both of its ways in."""
    skops_format = formats.FORMATS["skops"]
    messages = []
    for attempt in (skops_format.load, skops_format.check_file):
        with pytest.raises(UntrustedModelError) as caught:
            attempt(path, LoadPolicy())
        messages.append(str(caught.value))
    return messages


DANGEROUS = ["builtins.exec", "builtins.eval", "os.system"]


def test_harmless_crafted_base_file_loads(tmp_path):
    path = crafted_model(
        tmp_path / "model.skops",
        {"__class__": "log1p", "__module__": "numpy", "__loader__": "FunctionNode"},
    )
    loaded = formats.FORMATS["skops"].load(path, LoadPolicy())
    np.testing.assert_allclose(loaded.transform(np.array([[0.0, 1.0]])), np.log1p([[0.0, 1.0]]))


@pytest.mark.parametrize("dangerous", DANGEROUS)
def test_crafted_function_node_is_refused(tmp_path, dangerous):
    module, name = dangerous.split(".")
    path = crafted_model(
        tmp_path / "model.skops",
        {"__class__": name, "__module__": module, "__loader__": "FunctionNode"},
    )
    for message in refusals_of(path):
        assert dangerous in message


@pytest.mark.parametrize("dangerous", DANGEROUS)
def test_crafted_call_is_refused_and_never_runs(tmp_path, dangerous):
    marker = tmp_path / "pwned"
    path = crafted_model(tmp_path / "model.skops", payload_call(marker, dangerous))

    for message in refusals_of(path):
        assert dangerous in message
    assert not marker.exists()


@pytest.mark.parametrize("dangerous", DANGEROUS)
def test_crafted_call_would_run_if_skops_were_told_to_trust_it(tmp_path, dangerous):
    """The payloads above are live: what keeps them from running is the format's audit."""
    marker = tmp_path / "pwned"
    path = crafted_model(tmp_path / "model.skops", payload_call(marker, dangerous))

    skops.io.load(path, trusted=[dangerous])

    assert marker.exists()


def test_crafted_function_of_a_trusted_library_is_refused(tmp_path):
    path = crafted_model(
        tmp_path / "model.skops",
        {"__class__": "load", "__module__": "numpy", "__loader__": "FunctionNode"},
    )
    for message in refusals_of(path):
        assert "numpy.load" in message


def test_declaring_a_function_trusted_does_not_let_it_load(tmp_path):
    path = crafted_model(
        tmp_path / "model.skops",
        {"__class__": "exec", "__module__": "builtins", "__loader__": "FunctionNode"},
    )
    with pytest.raises(UntrustedModelError, match="builtins.exec"):
        formats.FORMATS["skops"].load(path, LoadPolicy(trusted_types=("builtins.exec",)))


def test_crafted_constructor_of_a_trusted_class_cannot_touch_files(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("important")
    path = crafted_model(
        tmp_path / "model.skops", call_node("numpy", "memmap", str(victim), "uint8", "w+", 0, [4])
    )

    try:
        with pytest.raises(UntrustedModelError):
            formats.FORMATS["skops"].load(path, LoadPolicy())
    finally:
        assert victim.read_text() == "important"


def test_audit_does_not_import_modules_the_file_names(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["f2py"])
    path = crafted_model(
        tmp_path / "model.skops",
        {"__class__": "X", "__module__": "numpy.f2py.__main__", "__loader__": "ObjectNode"},
    )
    with pytest.raises(UntrustedModelError, match="numpy.f2py.__main__.X"):
        formats.FORMATS["skops"].check_file(path, LoadPolicy())


OBJ, FUNC, CALL = {"ObjectNode"}, {"FunctionNode"}, {"ConstructorFromReduceNode"}


@pytest.mark.parametrize(
    ("loaders", "trusted", "refused"),
    [
        (
            {
                "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor": OBJ,
                "sklearn.tree._tree.Tree": {"TreeNode"},
                "scipy.sparse._csr.csr_matrix": {"SparseMatrixNode"},
                "numpy.dtype": {"DTypeNode"},
            },
            (),
            [],
        ),
        (
            {"numpy.load": FUNC, "sklearn.utils.check_array": FUNC, "numpy.memmap": CALL},
            (),
            ["numpy.load", "sklearn.utils.check_array", "numpy.memmap"],
        ),
        (
            {"builtins.exec": FUNC, "os.system": FUNC, "collections.OrderedDict": OBJ},
            (),
            ["builtins.exec", "os.system", "collections.OrderedDict"],
        ),
        (
            {"sklearnx.Estimator": OBJ, "numpyish.Array": OBJ},
            (),
            ["sklearnx.Estimator", "numpyish.Array"],
        ),
        (
            {"numpy.f2py.__main__.X": OBJ, "numpy.f2py.f2py2e.X": OBJ},
            (),
            ["numpy.f2py.__main__.X", "numpy.f2py.f2py2e.X"],
        ),
        ({DOUBLER: OBJ}, (DOUBLER,), []),
        # Declared, but restored by calling it: still refused.
        (
            {DOUBLER: CALL, "builtins.exec": FUNC},
            (DOUBLER, "builtins.exec"),
            [DOUBLER, "builtins.exec"],
        ),
        # A name the file's schema never shows with a loader is refused.
        ({}, (), []),
    ],
    ids=[
        "trusted-library-types",
        "trusted-library-calls",
        "other-names",
        "lookalike-roots",
        "tooling-modules",
        "declared-classes",
        "declared-but-called",
        "nothing",
    ],
)
def test_untrusted_refusals(loaders, trusted, refused):
    assert formats.untrusted_refusals(list(loaders), trusted, loaders) == refused
    assert formats.untrusted_refusals(["sklearn.base.Unseen"], ()) == ["sklearn.base.Unseen"]


# Pickle: only for entries that declare it.


class Payload:
    """Unpickling it creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_file_is_refused_unless_the_entry_declares_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "product.pkl"
    path.write_bytes(pickle.dumps(Payload(marker)))

    with pytest.raises(UntrustedModelError) as caught:
        formats.Pickle().load(path, LoadPolicy())

    message = str(caught.value)
    assert str(path) in message
    assert "format: pickle" in message
    assert not marker.exists()
    # The same file is a live payload: only the policy kept it from running.
    formats.Pickle().load(path, LoadPolicy(allow_pickle=True))
    assert marker.exists()
