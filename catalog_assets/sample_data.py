"""A deterministic synthetic cinema-loyalty data set: the sources of the sample catalog.

Several cinema chains (tenants) with their cinemas, a year of films with genres, loyalty members,
sessions and ticket transactions. The patterns are the ones the sample notebooks look for: weekend
peaks (weekly seasonality), per-member genre preferences, and members who lapse, usually after their
visits thin out. Everything follows from ``seed``: the same seed gives the same bytes of data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

GENRES = (
    "Action",
    "Animation",
    "Comedy",
    "Documentary",
    "Drama",
    "Family",
    "Horror",
    "Romance",
    "Sci-Fi",
    "Thriller",
)
CHAINS = (
    ("starlight", "Starlight Cinemas", "NZ", 17.5),
    ("roxy", "Roxy Picture Houses", "AU", 19.0),
    ("harbour", "Harbour Screens", "UK", 14.0),
)
FIRST_NAMES = ("Aroha", "Liam", "Mia", "Noah", "Olivia", "Tama", "Zoe", "Jack", "Isla", "Leo")
LAST_NAMES = ("Smith", "Ngata", "Brown", "Wilson", "Taylor", "Walker", "Clarke", "Patel")
CITIES = ("Auckland", "Wellington", "Sydney", "Melbourne", "Brisbane", "London", "Leeds", "Bristol")
# Visits per weekday, Monday first: quiet early week, Friday-Sunday peaks, cheap Tuesday.
WEEKDAY_FACTOR = np.array([0.55, 0.85, 0.65, 0.8, 1.45, 1.9, 1.6])
FILMS_PER_CINEMA_DAY = 5
SHOWTIMES = (17, 20)
LAPSE_WINDOW_DAYS = 60


@dataclass(frozen=True)
class SampleConfig:
    seed: int = 20240101
    members: int = 6000
    cinemas_per_chain: int = 8
    films: int = 180
    start: str = "2024-01-01"
    days: int = 366


def generate(config: SampleConfig = SampleConfig()) -> dict[str, pd.DataFrame]:
    """The source tables: chains, cinemas, films, members, sessions, transactions."""
    rng = np.random.default_rng(config.seed)
    start = pd.Timestamp(config.start)
    dates = pd.date_range(start, periods=config.days, freq="D")

    chains = pd.DataFrame([{"chain_id": c, "chain_name": n, "country": k} for c, n, k, _ in CHAINS])
    price = {c: p for c, _, _, p in CHAINS}

    n_cinemas = config.cinemas_per_chain * len(CHAINS)
    cinemas = pd.DataFrame(
        {
            "cinema_id": [f"C{i:03d}" for i in range(n_cinemas)],
            "chain_id": np.repeat([c[0] for c in CHAINS], config.cinemas_per_chain),
            "city": rng.choice(CITIES, n_cinemas),
            "screens": rng.integers(4, 13, n_cinemas),
        }
    )
    cinemas["cinema_name"] = cinemas["city"] + " " + cinemas["cinema_id"].str[1:]

    release_offsets = np.sort(rng.integers(-42, config.days, config.films))
    films = pd.DataFrame(
        {
            "film_id": [f"F{i:04d}" for i in range(config.films)],
            "title": [f"Feature {i:04d}" for i in range(config.films)],
            "genre": rng.choice(GENRES, config.films),
            "release_date": start + pd.to_timedelta(release_offsets, unit="D"),
            "runtime_min": rng.integers(85, 175, config.films),
        }
    )
    film_genre = films["genre"].map({g: i for i, g in enumerate(GENRES)}).to_numpy()

    sessions, session_genre = _sessions(rng, cinemas, films, film_genre, dates, release_offsets)
    members, rate, prefs = _members(rng, config, cinemas, start)
    transactions = _transactions(
        rng, config, members, rate, prefs, cinemas, sessions, session_genre, price
    )
    return {
        "chains": chains,
        "cinemas": cinemas[["cinema_id", "chain_id", "cinema_name", "city", "screens"]],
        "films": films,
        "members": members,
        "sessions": sessions,
        "transactions": transactions,
    }


def _sessions(rng, cinemas, films, film_genre, dates, release_offsets):
    """FILMS_PER_CINEMA_DAY films x SHOWTIMES per cinema and day, from the films in release."""
    n_days, n_cinemas = len(dates), len(cinemas)
    film_ids = films["film_id"].to_numpy()
    chosen = np.empty((n_cinemas, n_days, FILMS_PER_CINEMA_DAY), dtype=np.int64)
    for day in range(n_days):
        showing = np.flatnonzero((release_offsets <= day) & (release_offsets > day - 42))
        if len(showing) < FILMS_PER_CINEMA_DAY:  # fall back to the most recent releases
            showing = np.argsort(np.abs(release_offsets - day))[: FILMS_PER_CINEMA_DAY * 2]
        for cinema in range(n_cinemas):
            chosen[cinema, day] = rng.choice(showing, FILMS_PER_CINEMA_DAY, replace=False)
    film_index = np.repeat(chosen.reshape(-1), len(SHOWTIMES))
    cinema_index = np.repeat(np.arange(n_cinemas), n_days * FILMS_PER_CINEMA_DAY * len(SHOWTIMES))
    day_index = np.tile(
        np.repeat(np.arange(n_days), FILMS_PER_CINEMA_DAY * len(SHOWTIMES)), n_cinemas
    )
    hours = np.tile(SHOWTIMES, n_cinemas * n_days * FILMS_PER_CINEMA_DAY)
    sessions = pd.DataFrame(
        {
            "session_id": np.arange(len(film_index), dtype=np.int64) + 1,
            "cinema_id": cinemas["cinema_id"].to_numpy()[cinema_index],
            "chain_id": cinemas["chain_id"].to_numpy()[cinema_index],
            "film_id": film_ids[film_index],
            "starts_at": dates.to_numpy()[day_index] + pd.to_timedelta(hours, unit="h").to_numpy(),
            "capacity": rng.integers(60, 260, len(film_index)),
        }
    )
    return sessions, film_genre[film_index]


def _members(rng, config, cinemas, start):
    n = config.members
    home = rng.integers(0, len(cinemas), n)
    joined = start + pd.to_timedelta(rng.integers(-3 * 365, config.days - 30, n), unit="D")
    # Visits per day: most members are occasional, a few are regulars.
    rate = rng.gamma(shape=1.3, scale=0.05, size=n)
    prefs = rng.dirichlet(np.full(len(GENRES), 0.6), size=n)
    member_id = np.arange(n, dtype=np.int64) + 100_000
    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    members = pd.DataFrame(
        {
            "member_id": member_id,
            "chain_id": cinemas["chain_id"].to_numpy()[home],
            "home_cinema_id": cinemas["cinema_id"].to_numpy()[home],
            "joined_date": joined,
            # Personal data: the sources' terms drop these unless an entry declares a need.
            "first_name": first,
            "last_name": last,
            "email": [
                f"{given.lower()}.{family.lower()}.{number}@example.com"
                for given, family, number in zip(first, last, member_id, strict=True)
            ],
            "birth_date": pd.Timestamp("1950-01-01")
            + pd.to_timedelta(rng.integers(0, 58 * 365, n), unit="D"),
        }
    )
    return members, rate, prefs


def _transactions(rng, config, members, rate, prefs, cinemas, sessions, session_genre, price):
    n, days = len(members), config.days
    day = np.arange(days)
    # Lapsers stop visiting on their lapse day; over the 60 days before, their visits thin out.
    lapses = rng.random(n) < 0.4
    lapse_day = np.where(lapses, rng.integers(30, days, n), days + 10**6)
    decline = np.clip((lapse_day[:, None] - day[None, :]) / 60.0, 0.0, 1.0)
    joined_day = (members["joined_date"] - pd.Timestamp(config.start)).dt.days.to_numpy()
    active = day[None, :] >= joined_day[:, None]
    weekday = WEEKDAY_FACTOR[(pd.Timestamp(config.start).day_of_week + day) % 7]
    expected = rate[:, None] * weekday[None, :] * decline * active
    member_index, visit_day = np.nonzero(rng.poisson(expected))

    # Most visits are at the member's home cinema, some at another cinema of the same chain.
    home = pd.Index(cinemas["cinema_id"]).get_indexer(members["home_cinema_id"])[member_index]
    per_chain = len(cinemas) // len(CHAINS)
    elsewhere = rng.random(len(home)) < 0.2
    cinema = np.where(
        elsewhere, (home // per_chain) * per_chain + rng.integers(0, per_chain, len(home)), home
    )
    # Pick the session by the member's genre preference among that cinema-day's sessions.
    block = FILMS_PER_CINEMA_DAY * len(SHOWTIMES)
    first = (cinema * days + visit_day) * block
    candidates = first[:, None] + np.arange(block)[None, :]
    weights = prefs[member_index[:, None], session_genre[candidates]]
    cumulative = np.cumsum(weights, axis=1)
    pick = (rng.random(len(first))[:, None] * cumulative[:, -1:] < cumulative).argmax(axis=1)
    session_index = candidates[np.arange(len(first)), pick]

    tickets = 1 + rng.binomial(3, 0.3, len(first))
    chain = members["chain_id"].to_numpy()[member_index]
    unit_price = np.vectorize(price.get)(chain)
    starts = sessions["starts_at"].to_numpy()[session_index]
    lead = pd.to_timedelta(rng.integers(10, 3 * 24 * 60, len(first)), unit="min").to_numpy()
    transactions = pd.DataFrame(
        {
            "member_id": members["member_id"].to_numpy()[member_index],
            "chain_id": chain,
            "session_id": sessions["session_id"].to_numpy()[session_index],
            "purchased_at": starts - lead,
            "tickets": tickets,
            "amount": np.round(tickets * unit_price * rng.uniform(0.85, 1.0, len(first)), 2),
        }
    ).sort_values(["purchased_at", "member_id"], kind="stable", ignore_index=True)
    transactions.insert(0, "transaction_id", np.arange(len(transactions), dtype=np.int64) + 1)
    return transactions


def write_sources(
    storage_url: str, config: SampleConfig = SampleConfig(), s3: dict[str, str] | None = None
) -> dict[str, int]:
    """Write the sample sources into ``sources/movio/`` of a storage root; rows per table.

    Sources are provider data, so this is the only writer of the sources area; each table is
    written atomically, so a reader sees the old table or the new.
    """
    import tempfile
    from pathlib import Path

    from catalog_assets.storage import keys
    from catalog_assets.storage.backend import sha256_file
    from catalog_assets.storage.backends import open_backend
    from catalog_assets.storage.store import SOURCES

    backend = open_backend(storage_url, s3)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="catalog-sample-") as folder:
        for name, frame in generate(config).items():
            path = Path(folder) / f"{name}.parquet"
            frame.to_parquet(path, engine="pyarrow", compression="zstd")
            key = keys.join(SOURCES, "movio", f"{name}.parquet")
            rows[name] = len(frame)
            if backend.stat(key) is not None:
                # The same bytes again would still be a new version of the source (its ETag or
                # modification time), making everything downstream stale for nothing.
                with backend.reading(key) as existing:
                    if sha256_file(existing) == sha256_file(path):
                        continue
            backend.put_file(path, key)
    return rows
