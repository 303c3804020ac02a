"""``nbhygiene run``: notebooks as versioned, parameterized papermill jobs.

The sub-package is layered so that each piece can be read (and imported) on its own:

* :mod:`~nbhygiene.jobs.metrics` -- ``record()`` for use inside a notebook (stdlib only);
* :mod:`~nbhygiene.jobs.params`, :mod:`~nbhygiene.jobs.notebook_info`, :mod:`~nbhygiene.jobs.environment`
  and :mod:`~nbhygiene.jobs.runkey` -- what a run *is* (its inputs and its key), all cheap;
* :mod:`~nbhygiene.jobs.store` -- :class:`RunStore`, run folders plus an SQLite index;
* :mod:`~nbhygiene.jobs.kernels`, :mod:`~nbhygiene.jobs.execution` and :mod:`~nbhygiene.jobs.executors` --
  executing runs in pre-started single-use kernels, locally or on Dask;
* :mod:`~nbhygiene.jobs.batch`, :mod:`~nbhygiene.jobs.history`, :mod:`~nbhygiene.jobs.monitor`,
  :mod:`~nbhygiene.jobs.plot` and :mod:`~nbhygiene.jobs.cli` -- the commands;
* :mod:`~nbhygiene.jobs.engine` -- the ``nbhygiene`` papermill engine.

Nothing here is imported by ``import nbhygiene``; heavy dependencies (papermill, nbclient, jupyter_client,
Dask) are imported only where a run is executed.
"""
