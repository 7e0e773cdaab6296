"""The coverage computation on dask-geopandas over a ``dask.distributed`` cluster.

For country-scale inputs (all municipalities, millions of buildings) the people are split
into partitions and :func:`twin.coverage.frame.covered_people` runs on each partition on the
cluster's workers; the shared inputs (emitters, operator polygons, fiber network, the DEM
when line of sight is on) are scattered to every worker once. :func:`measure_dask` reads
the inputs from PostGIS; :func:`covered_dask` takes any dask GeoDataFrame of people (e.g.
from ``dask_geopandas.read_parquet``) for inputs that never fit one database.

``distributed`` has no type annotations on its client methods, hence the few
``no-untyped-call`` ignores.

No home-made distribution: a :class:`distributed.LocalCluster` on one machine, or the
address of any running dask scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dask_geopandas
import geopandas as gpd
import pandas as pd
from distributed import Client, LocalCluster

from twin.coverage.frame import Inputs, coverage_of, covered_people, read_inputs
from twin.coverage.model import Model, load_model
from twin.coverage.report import Coverage, terrain_for
from twin.coverage.terrain import Terrain

#: Columns of the frame each partition returns.
_META = pd.DataFrame(
    {"unit_id": pd.Series(dtype=object), "by_model": pd.Series(dtype=bool),
     "by_operator": pd.Series(dtype=bool), "covered": pd.Series(dtype=bool)}
)  # fmt: skip


@contextmanager
def local_cluster(workers: int = 2, threads_per_worker: int = 1) -> Iterator[Client]:
    """Start a :class:`distributed.LocalCluster` on 127.0.0.1 and yield a client of it.

    The cluster (worker processes, no dashboard) is closed when the block ends.
    """
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
        host="127.0.0.1", dashboard_address=None,
    )  # fmt: skip
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


def covered_dask(
    people: dask_geopandas.GeoDataFrame,
    inputs: Inputs,
    client: Client,
    model: Model | None = None,
    terrain: Terrain | None = None,
) -> pd.DataFrame:
    """Compute every person's coverage flags on the cluster.

    Parameters
    ----------
    people
        People partitions (``unit_id``, ``x``, ``y``, ``fiber`` for gigabit, geometry).
    inputs
        The shared inputs (emitters, polygons, network) and the technology.
    client
        A client of the cluster to compute on.
    model
        The model parameters; ``twin/coverage/model.toml`` by default.
    terrain
        The DEM when line of sight is on.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``by_model``, ``by_operator``, ``covered``, in partition order.
    """
    model = model or load_model()
    # Keys of their own (hash=False): scattered by content, two calls with equal inputs (the
    # same model, empty polygons) share keys, and the first call's release of them races
    # with the second's use ("lost dependencies", or a computation that never ends).
    shared = client.scatter(  # type: ignore[no-untyped-call]
        [inputs.emitters, inputs.polygons, inputs.network, model, terrain],
        broadcast=True,
        hash=False,
    )
    flags = people.map_partitions(covered_people, inputs.tech, *shared, meta=_META)
    result: pd.DataFrame = client.compute(flags).result()  # type: ignore[no-untyped-call]
    return result


def measure_dask(
    tech: str,
    url: str | None = None,
    *,
    client: Client | None = None,
    npartitions: int | None = None,
    model: Model | None = None,
    dem: Path | None = None,
) -> Coverage:
    """Do :func:`twin.coverage.report.measure` on a dask cluster (inputs read from PostGIS).

    Parameters
    ----------
    tech
        ``'5g'``, ``'4g'`` or ``'gigabit'``.
    url
        libpq URL; the twin's database by default.
    client
        A client of the cluster; a two-worker :func:`local_cluster` for the call by default.
    npartitions
        Number of people partitions; two per worker thread by default.
    model
        The model parameters; ``twin/coverage/model.toml`` by default.
    dem
        DEM for the line-of-sight mask (only when the model switches it on).

    Returns
    -------
    Coverage
        As the PostGIS path returns it.
    """
    model = model or load_model()
    if client is None:
        with local_cluster() as own:
            return measure_dask(
                tech, url, client=own, npartitions=npartitions, model=model, dem=dem
            )
    inputs = read_inputs(tech, url, model=model)
    threads = sum(client.nthreads().values()) or 1  # type: ignore[no-untyped-call]
    frame: gpd.GeoDataFrame = inputs.people
    parts = dask_geopandas.from_geopandas(frame, npartitions=npartitions or 2 * threads)
    flags = covered_dask(parts, inputs, client, model, terrain_for(model, dem))
    return coverage_of(inputs, flags.reset_index(drop=True))


__all__ = ["covered_dask", "local_cluster", "measure_dask"]
