"""The synthetic sample: deterministic, and with the patterns the sample notebooks look for."""

import pandas as pd
import pytest

from catalog_assets.cli import main
from catalog_assets.sample_data import SampleConfig, generate

SMALL = SampleConfig(members=1500)


@pytest.fixture(scope="module")
def tables():
    return generate(SMALL)


def test_same_seed_same_data(tables):
    again = generate(SMALL)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, again[name])
    other = generate(SampleConfig(members=1500, seed=7))
    assert not other["transactions"].equals(tables["transactions"])


def test_keys_and_references_hold(tables):
    t = tables
    assert t["members"]["member_id"].is_unique and t["sessions"]["session_id"].is_unique
    assert t["transactions"]["member_id"].isin(t["members"]["member_id"]).all()
    assert t["transactions"]["session_id"].isin(t["sessions"]["session_id"]).all()
    assert t["sessions"]["film_id"].isin(t["films"]["film_id"]).all()
    assert set(t["members"]["chain_id"]) == set(t["chains"]["chain_id"]) and len(t["chains"]) >= 3


def test_weekly_seasonality_genre_preference_and_lapsing(tables):
    t = tables
    visits = t["transactions"].merge(t["sessions"], on="session_id").merge(t["films"], on="film_id")
    by_day = visits["starts_at"].dt.day_of_week.value_counts()
    assert by_day[5] > 1.8 * by_day[0]  # Saturdays are busier than Mondays
    # Members concentrate on their favourite genre: far more than if genres were picked blindly.
    regulars = visits[visits.groupby("member_id")["member_id"].transform("size") >= 10]

    def top_genre_share(frame):
        counts = frame.groupby(["member_id", "genre"]).size()
        return (counts.groupby("member_id").max() / counts.groupby("member_id").sum()).median()

    blind = regulars.assign(genre=regulars["genre"].sample(frac=1, random_state=1).to_numpy())
    assert top_genre_share(regulars) > top_genre_share(blind) + 0.05
    last = visits.groupby("member_id")["starts_at"].max()
    lapsed = last < visits["starts_at"].max() - pd.Timedelta(days=60)
    assert 0.2 < lapsed.mean() < 0.7


def test_sample_data_command_writes_sources(tmp_path, capsys):
    assert main(["sample-data", "--storage-url", str(tmp_path), "--members", "300"]) == 0
    written = sorted(p.name for p in (tmp_path / "sources" / "movio").iterdir())
    assert written == sorted(f"{n}.parquet" for n in generate(SampleConfig(members=300)))
    assert "members 300" in capsys.readouterr().out
