"""Many recordings at once, behind `batch.py`: the inputs expanded into videos, each video
analysed by a Dask worker (on this machine or a cluster), its results written beside the
others, and the batch's summary and report rebuilt from them."""
