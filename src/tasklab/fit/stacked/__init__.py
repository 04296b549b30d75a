"""Several seeds of one config trained as one stacked model (``trainer.seeds_per_fit``).

Each member keeps exactly what its own seed gives — initialisation, training subset, data
order, label masks — and its own parameters, optimiser state and normalisation statistics;
only the arithmetic is batched. See ``tasklab.fit.stacked.group`` for which jobs of a sweep train
together and ``tasklab.fit.stacked.fit`` for one stacked fit.
"""
